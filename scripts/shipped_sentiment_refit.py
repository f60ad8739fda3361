"""Refit a shipped sentiment model without training its neural part again
(``scripts/build_shipped_sentiment.py recalibrate|remix|rebranch`` and ``--max-len``): the
calibration, the mix, the n-gram branch, or the words the neural part reads. Each rebuilds the
validation part the model was chosen on and checks that the model scores its card's accuracy
there before fitting anything on it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from shipped_sentiment_cards import write_card
from shipped_sentiment_data import IMDB, TARGET, chinese_split
from shipped_sentiment_rule import evaluate_once, held_out_data, ship_refusal, validation_part


def fit_on_validation(lang: str, model: Path, card: dict, work: Path, views: bool = False) -> tuple:
    """The model saved in ``model`` on the validation part it was chosen on (rebuilt): ``(loaded
    model, prepared validation data (with the short views if ``views``), its mixed logits, the
    calibration fitted there, the fit's report)`` (:func:`textlab.sentiment.finish.calibrate_stage`)."""
    from textlab.sentiment.finish import calibrate_stage
    from textlab.sentiment.mix import Snippets
    from textlab.sentiment.neural_phase import predict_logits

    loaded, prepared = rebuilt_validation(lang, model, card, work, views)
    device = loaded.model.mix.device
    logits = predict_logits(loaded.model, prepared.valid, device, part="mixed")
    short = Snippets.of(prepared, card["extra"]["training"]["seed"])
    calibration, report = calibrate_stage(loaded.model, prepared, logits, short, device)
    return loaded, prepared, logits, calibration, report


def rebuilt_validation(lang: str, model: Path, card: dict, work: Path, views: bool = False) -> tuple:
    """(the model saved in ``model``, loaded; its validation part, rebuilt and encoded, with the
    short views if ``views``)."""
    from textlab.sentiment.data import EncodedReviews, encode_reviews, tokenize_texts
    from textlab.sentiment.prepare import Prepared
    from textlab.sentiment.saved import load_sentiment
    from textlab.sentiment.short_inputs import sentence_views

    loaded = load_sentiment(model)
    texts, labels = validation_part(lang, card, work)
    tokens = list(tokenize_texts(texts, loaded.config.lang))
    valid = encode_reviews(tokens, range(len(tokens)), labels, loaded.encoder)
    return loaded, Prepared(loaded.config, loaded.encoder.vocab, EncodedReviews(), valid, tokens, {},
                            views=sentence_views(texts, labels, loaded.config.lang, loaded.encoder) if views else {})


def check_rebuilt(lang: str, card: dict, logits, labels) -> float:
    """The saved model's accuracy on the rebuilt validation part (``logits``), which must be the
    card's: else this is not the part the model was chosen on and nothing may be fitted there."""
    from textlab.sentiment.linear import accuracy

    measured = accuracy(logits, labels)
    if abs(measured - card["metrics"]["valid_accuracy"]) > 1e-4:
        raise SystemExit(f"{lang}: the rebuilt validation part scores {measured:.4f}, the card says "
                         f"{card['metrics']['valid_accuracy']}: not the part the model was chosen on")
    return measured


def recalibrate(lang: str, work: Path) -> dict:
    """Fit and store the shipped model's calibration (see the module docstring)."""
    import numpy as np

    from textlab.sentiment.config import OLD_FIELD_NAMES

    destination = TARGET / lang
    card_path = destination / "config.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    _loaded, prepared, logits, calibration, report = fit_on_validation(lang, destination, card, work)
    labels = prepared.valid.labels
    check_rebuilt(lang, card, logits, labels)
    held_out = held_out_data(lang, work)
    uncalibrated, staging = work / f"{lang}-uncalibrated", work / f"{lang}-calibrated"
    for copy in (uncalibrated, staging):
        shutil.copytree(destination, copy)
    plain = {**card, "extra": {k: v for k, v in card["extra"].items() if k != "calibration"}}
    write_card(uncalibrated, plain)
    before = evaluate_once(uncalibrated, held_out)  # (re-runnable: "before" never uses a stored calibration)
    card["config"] = {OLD_FIELD_NAMES.get(k, k): v for k, v in card["config"].items()}
    renamed = {"ngram_valid_accuracy": "ngram_branch_valid_accuracy", "ngram_best_epoch": "ngram_branch_best_epoch",
               "ngram_learning_rate": "ngram_branch_learning_rate"}
    card["metrics"] = {renamed.get(k, k): v for k, v in card["metrics"].items()}
    card["extra"]["calibration"] = calibration.to_dict()
    card["extra"]["calibration_fit"] = {**report, "by": "scripts/build_shipped_sentiment.py recalibrate "
                                        "(validation part rebuilt, weights unchanged)"}
    write_card(staging, card)
    after = evaluate_once(staging, held_out)
    if after["accuracy"] != before["accuracy"]:
        raise SystemExit(f"{lang}: test accuracy moved from {before['accuracy']} to {after['accuracy']}")
    card["metrics"].update({"test_ece": after["ece"], "test_ece_before_calibration": before["ece"],
                            "valid_ece": report["valid_ece"]})
    card["extra"]["calibration_fit"]["test"] = {"before": before, "after": after,
                                                "load_average": round(os.getloadavg()[0], 1)}
    write_card(destination, card)
    return {"lang": lang, "calibration": calibration.to_dict(), "test_before": before, "test_after": after,
            "valid_ece_before": report["valid_ece_before"], "valid_ece": report["valid_ece"],
            "snippet_ece_before": report["snippet_ece_before"], "snippet_ece": report["snippet_ece"],
            "valid_accuracy": round(float(np.mean((logits > 0) == np.asarray(labels))), 4)}


#: How far the full-review validation accuracy may fall when ``remix`` refits a shipped model's
#: mix for short texts too: 0.1 point (3 of 2,500 English reviews, 1 of 995 Chinese ones).
REMIX_TOLERANCE = 0.001


def remix(lang: str, work: Path) -> dict:
    """Fit the shipped model's mix again, now with its short-text terms (fitted on the validation
    part and one snippet of each review, as training does since; textlab.sentiment.mix), then
    its calibration, without retraining: the neural part and the n-gram branch are unchanged.
    The rebuilt validation part must give the card's validation accuracy first; the refitted
    model may not fall more than :data:`REMIX_TOLERANCE` below it on the whole reviews. Then
    the short views are measured again and the test split read once (the previous figures are
    kept in ``extra.mix_fit.before``)."""
    from safetensors.torch import load_file, save_file

    from textlab.sentiment.finish import calibrate_stage, short_view_metrics
    from textlab.sentiment.linear import accuracy
    from textlab.sentiment.mix import Snippets, fit_and_set_mix, mix_metrics
    from textlab.sentiment.neural_phase import predict_logits
    from textlab.store.files import WEIGHTS_FILE

    destination = TARGET / lang
    card = json.loads((destination / "config.json").read_text(encoding="utf-8"))
    loaded, prepared = rebuilt_validation(lang, destination, card, work, views=True)
    model, device, labels = loaded.model, loaded.model.mix.device, prepared.valid.labels
    before = check_rebuilt(lang, card, predict_logits(model, prepared.valid, device, part="mixed"), labels)
    short = Snippets.of(prepared, card["extra"]["training"]["seed"])
    neural = predict_logits(model, prepared.valid, device, part="neural")
    ngram = predict_logits(model, prepared.valid, device, part="ngram")
    old_mix = model.full_mix()
    mix, which, candidates = fit_and_set_mix(model, prepared, neural, ngram, short, device)
    logits = predict_logits(model, prepared.valid, device, part="mixed")
    after = accuracy(logits, labels)
    if after < before - REMIX_TOLERANCE:
        raise SystemExit(f"{lang}: the refitted mix scores {after:.4f} on the validation reviews, "
                         f"{before:.4f} before: not shipped")
    calibration, report = calibrate_stage(model, prepared, logits, short, device)
    previous = {k: card["metrics"].get(k) for k in ("mix", "valid_accuracy", "valid_loss", "valid_ece",
                                                     "valid_accuracy_first_sentence", "valid_accuracy_last_sentence",
                                                     "test_accuracy", "test_f1", "test_ece")}
    card["metrics"].update({**mix_metrics(mix, which, candidates, logits, labels), "valid_ece": report["valid_ece"],
                            **short_view_metrics(model, prepared, device)})
    card["extra"]["short_mix"] = [round(float(v), 6) for v in mix[3:]]
    card["extra"]["calibration"] = calibration.to_dict()
    card["extra"]["calibration_fit"] = {**report, "by": "scripts/build_shipped_sentiment.py remix (after the mix)"}
    card["extra"]["mix_fit"] = {"by": "scripts/build_shipped_sentiment.py remix (weights unchanged but the mix)",
                                "fitted_on": report["fitted_on"], "before": {**previous, "mix": [round(float(v), 4) for v in old_mix]}}
    staging = work / f"{lang}-remixed"
    shutil.copytree(destination, staging)
    tensors = load_file(str(staging / WEIGHTS_FILE))
    tensors["mix"] = mix[:3].to(tensors["mix"].dtype)
    save_file(tensors, str(staging / WEIGHTS_FILE))
    write_card(staging, card, record=True)
    test = evaluate_once(staging, held_out_data(lang, work))
    card["metrics"].update({"test_accuracy": test["accuracy"], "test_ece": test["ece"], "test_n": test["n"]})
    card["metrics"].pop("test_f1", None)  # eval-sentiment's --json gives accuracy and ECE
    write_card(staging, card, record=True)
    shutil.copytree(staging, destination, dirs_exist_ok=True)
    return {"lang": lang, "mix": card["metrics"]["mix"], "mix_choice": which,
            **{k: card["metrics"].get(k) for k in ("valid_accuracy", "valid_ece", "valid_accuracy_first_sentence",
                                                   "valid_accuracy_last_sentence", "test_accuracy", "test_ece")},
            "before": previous, "snippet_ece": report["snippet_ece"], "test_load_average": round(os.getloadavg()[0], 2)}


def rebranch(lang: str, buckets: int, work: Path) -> dict:
    """Train the shipped model's n-gram branch again with ``buckets`` hashed slots, the neural
    part unchanged (the branch trains apart from it, before it, on the same training part, as
    train-sentiment's stage 2 does: :func:`textlab.sentiment.ngram_phase.ngram_phase`, same rates and
    epochs), then fit the mix (length-aware) and the calibration on the validation part, measure
    the short views, read the test split once, and ship it as the other trials do: only if it
    beats the shipped card's validation accuracy and keeps the speed (:func:`ship_refusal`).
    Why: 2^21 slots hold IMDb's uni/bi/trigrams with many collisions."""
    from dataclasses import fields, replace

    from textlab.plots import CURVE_FILE
    from textlab.runtime.device import torch_threads
    from textlab.sentiment.config import TrainSettings
    from textlab.sentiment.finish import calibrate_stage, short_view_metrics
    from textlab.sentiment.linear import accuracy
    from textlab.sentiment.mix import Snippets, fit_and_set_mix, mix_metrics
    from textlab.sentiment.model import SentimentModel
    from textlab.sentiment.neural_phase import predict_logits
    from textlab.sentiment.ngram_phase import ngram_phase
    from textlab.sentiment.prepare import prepare
    from textlab.sentiment.run_plan import Clock
    from textlab.sentiment.saved import load_sentiment, save_sentiment
    from textlab.store.cards import VOCAB_FILE

    destination = TARGET / lang
    card = json.loads((destination / "config.json").read_text(encoding="utf-8"))
    loaded = load_sentiment(destination)
    old_buckets = loaded.config.ngram_branch_buckets
    if old_buckets == buckets:
        raise SystemExit(f"{lang}: the shipped branch already has {buckets} slots")
    training = card["extra"]["training"]
    dataset, valid_data = (IMDB, None) if lang == "en" else chinese_split(work)[:2]
    settings = TrainSettings(**{**{f.name: training[f.name] for f in fields(TrainSettings) if f.name in training},
                                "valid_data": None if valid_data is None else str(valid_data), "sentence_crops": 0.0,
                                "max_minutes": None, "device": "cpu"})
    prepared = prepare(str(dataset), replace(loaded.config, ngram_branch_buckets=buckets), settings, None,
                       saved_vocab=(destination / VOCAB_FILE).read_text(encoding="utf-8"))
    device = loaded.model.mix.device
    model = SentimentModel(prepared.config)
    model.load_state_dict(loaded.model.neural_state(), strict=False)
    labels = prepared.valid.labels
    neural = predict_logits(model, prepared.valid, device, part="neural")
    if abs(accuracy(neural, labels) - accuracy(predict_logits(loaded.model, prepared.valid, device), labels)) > 1e-9:
        raise SystemExit(f"{lang}: the neural part moved when copied")
    with torch_threads(settings.threads):
        ngram = ngram_phase(model, prepared, settings, Clock(0.0, None), None, device)
    short = Snippets.of(prepared, settings.seed)
    mix, which, candidates = fit_and_set_mix(model, prepared, neural, ngram["valid_logits"], short, device)
    logits = predict_logits(model, prepared.valid, device, part="mixed")
    calibration, report = calibrate_stage(model, prepared, logits, short, device)
    metrics = {k: v for k, v in card["metrics"].items() if not k.startswith(("test_", "ngram_branch_", "mix"))}
    metrics.update({**ngram["metrics"], "ngram_branch_history": ngram["history"],
                    **mix_metrics(mix, which, candidates, logits, labels), "valid_ece": report["valid_ece"],
                    **short_view_metrics(model, prepared, device)})
    extra = {k: v for k, v in card["extra"].items()
             if k not in ("weights_dtype", "ngram_table", "short_mix", "calibration", "calibration_fit", "mix_fit")}
    extra["rebranched"] = {"by": f"scripts/build_shipped_sentiment.py rebranch {lang} --ngram-branch-buckets {buckets}",
                           "ngram_branch_buckets_before": old_buckets,
                           "before": {k: card["metrics"].get(k) for k in (
                               "valid_accuracy", "ngram_branch_valid_accuracy", "valid_accuracy_first_sentence",
                               "valid_accuracy_last_sentence", "test_accuracy", "test_ece")},
                           "curve": "curve.png is the original training's (the branch's curve in it is the old branch's)"}
    candidate = work / f"{lang}-rebranched"
    save_sentiment(candidate, model, prepared.vocab, card["data"], metrics, command=card["command"],
                   extra={**extra, "calibration_fit": {**report, "by": "scripts/build_shipped_sentiment.py rebranch"}},
                   extra_files={CURVE_FILE: (destination / CURVE_FILE).read_bytes()}, calibration=calibration)
    test = evaluate_once(candidate, held_out_data(lang, work))
    new_card = json.loads((candidate / "config.json").read_text(encoding="utf-8"))
    new_card["metrics"].update({"test_accuracy": test["accuracy"], "test_ece": test["ece"], "test_n": test["n"],
                                "test_data": card["metrics"].get("test_data")})
    write_card(candidate, new_card, record=True)
    why = ship_refusal(lang, candidate, new_card, work, destination)
    if why is None:
        shutil.rmtree(destination)
        shutil.copytree(candidate, destination)
    return {"lang": lang, "ngram_branch_buckets": buckets, "shipped": why is None, "why_not": why,
            **{k: new_card["metrics"].get(k) for k in ("valid_accuracy", "ngram_branch_valid_accuracy",
                                                       "valid_accuracy_first_sentence", "valid_accuracy_last_sentence",
                                                       "valid_ece", "test_accuracy", "test_ece",
                                                       "valid_reviews_per_second_one_thread")},
            "before": extra["rebranched"]["before"], "snippet_ece": report["snippet_ece"],
            "bytes": sum(f.stat().st_size for f in candidate.iterdir()),
            "load_average": round(os.getloadavg()[0], 2)}


def read_window(lang: str, model: Path, max_len: int, work: Path) -> dict:
    """Have a trained model's neural part read at most ``max_len`` words of a review (its first
    ``head_len_for(max_len)`` and its last ones, as train-sentiment cuts; the n-gram branch and the bag
    read as before), then measure again on the validation part what that changes: accuracy, the
    short views, and the calibration, refitted (the mix stays). The figures at the trained
    length stay in the card (``extra.trained_window``). A choice made on validation, for speed:
    the LSTM's work grows with the words it reads."""
    from textlab.sentiment.config import head_len_for
    from textlab.sentiment.finish import short_view_metrics
    from textlab.sentiment.linear import accuracy

    card = json.loads((model / "config.json").read_text(encoding="utf-8"))
    trained = {k: card["config"][k] for k in ("max_len", "head_len")}
    if max_len >= trained["max_len"]:
        raise SystemExit(f"--max-len {max_len}: the model already reads at most {trained['max_len']} words")
    card["config"].update(max_len=max_len, head_len=head_len_for(max_len))
    card["extra"]["trained_window"] = {**trained, "metrics": {k: v for k, v in card["metrics"].items()
                                                              if k.startswith(("valid_", "test_"))}}
    card["metrics"] = {k: v for k, v in card["metrics"].items() if not k.startswith("test_") and k != "valid_loss"}
    write_card(model, card)
    loaded, prepared, logits, calibration, report = fit_on_validation(lang, model, card, work, views=True)
    card["metrics"].update({"valid_accuracy": round(accuracy(logits, prepared.valid.labels), 4),
                            "valid_ece": report["valid_ece"],
                            **short_view_metrics(loaded.model, prepared, loaded.model.mix.device)})
    card["extra"]["calibration"] = calibration.to_dict()
    card["extra"]["calibration_fit"] = {**report, "by": f"scripts/build_shipped_sentiment.py --max-len {max_len} "
                                        "(refitted for the shorter window, weights unchanged)"}
    write_card(model, card)
    return {"max_len": max_len, "trained": trained, **{k: card["metrics"].get(k) for k in
                                                       ("valid_accuracy", "valid_ece", "valid_accuracy_first_sentence",
                                                        "valid_accuracy_last_sentence")}}
