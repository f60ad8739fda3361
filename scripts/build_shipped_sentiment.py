"""Build the sentiment models shipped in the package (textlab/pretrained/sentiment/{en,zh}) with
textlab's own commands, from public data, and record data, command and measured accuracy in
each card.

    python scripts/build_shipped_sentiment.py en --minutes 30 --epochs 6
    python scripts/build_shipped_sentiment.py zh --minutes 12 --epochs 10

en: `textlab train-w2v` first learns in-domain word vectors from the aclImdb train/{pos,neg,unsup}
    reviews (75k texts, never the test split); `textlab train-sentiment --pretrained-w2v` then
    trains on the aclImdb train split with its embedding initialised from those vectors (its
    validation part picks the epoch); measured once on the 25k-review test split with
    `textlab eval-sentiment`. The word2vec model is a build step only: it is not shipped.
zh: ChnSentiCorp hotel reviews: every 5th row is held out (never trained on or chosen by) and
    used for the reported accuracy; every 5th of the other rows is the validation part (it picks
    the epoch and the mix); training uses the remaining rows plus the hotel (酒店) reviews of
    online_shopping_10_cats, minus any review whose text also occurs in the held-out or
    validation part. The n-gram branch sees word and character n-grams (--ngram-units auto).
    Its embedding starts from word vectors that `textlab train-w2v --lang zh` learns from the
    review texts of all the Chinese CSVs minus every held-out text (labels unused).
    --no-w2v skips the word2vec step (random embedding init) for either language.

    python scripts/build_shipped_sentiment.py en --from-lm --epochs 3 --minutes 60 --lm-epochs 1
    python scripts/build_shipped_sentiment.py en --from-lm --smoke 300   # minutes: proves the steps, ships nothing

--from-lm (scripts/shipped_sentiment_lm.py): pretrain a word LM with `textlab train-lm` on the
    language's unlabelled reviews (en: aclImdb train/unsup + the labelled train reviews outside
    the sentiment validation part; zh: the word2vec corpus above), then `textlab train-sentiment
    --from-lm` (the LM sets the vocabulary and shape; --pooling last+max+mean, --dropout and
    --sentence-crops from its defaults); the model ships only if its validation accuracy beats
    the shipped model's card (the same validation part), never on test figures.

    python scripts/build_shipped_sentiment.py en --sentence-crops 0.5 --candidate ../scratch/crops/en

--sentence-crops F: train with `textlab train-sentiment --sentence-crops F` (default: the recipe's,
    0 for the plain recipe, --from-lm's default otherwise); given, the build is a trial of another
    recipe: its model ships only if it beats the shipped model's card on the same validation part
    and keeps the inference speed (as --keep-better). --candidate DIR keeps a copy of the trained
    model (its card complete), shipped or not.

    python scripts/build_shipped_sentiment.py en --from-model ../scratch/build/en_lm_candidate --max-len 96

--max-len N: the trained model's neural part then reads at most N words of a review (the first
    N // 4 and the last ones; the n-gram branch still reads up to 1,000): validation accuracy, the
    short views and the calibration are measured again, the trained length's figures kept in the
    card (extra.trained_window). For speed: it ships only as --keep-better would let it.

    python scripts/build_shipped_sentiment.py recalibrate all

recalibrate: fit the calibration (textlab.sentiment.calibrate) of the shipped models without
    retraining them: rebuild the same validation part deterministically (en: the seed-1 tenth of
    the aclImdb train split; zh: the ChnSentiCorp rows of chinese_split), check that the model
    scores exactly its recorded validation accuracy there, fit the temperature on it and on
    snippets of it, write it into the card (weights unchanged; old card field names renamed),
    and measure test accuracy and ECE before and after with `textlab eval-sentiment`.

    python scripts/build_shipped_sentiment.py remix all

remix: fit the mix of the shipped models again with its short-text terms (textlab.sentiment.mix:
    on the validation part and one snippet of each review) and then the calibration, without
    retraining either part; checked as recalibrate is, then the test split read once.

    python scripts/build_shipped_sentiment.py rebranch en --ngram-branch-buckets 8388608

rebranch: train the shipped model's n-gram branch again with more hashed slots (the neural part
    unchanged), then mix, calibrate, measure and ship as a trial does (only if validation improves
    on the shipped card and the speed rule holds).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shipped_sentiment_cards import finalize_shipped, normalize_card, write_card  # noqa: E402 (beside this script)
from shipped_sentiment_data import (  # noqa: E402 (the data recipes)
    IMDB, REPO, TARGET, chinese_split, chinese_unlabelled_text, imdb_unlabelled_text, textlab,
)
from shipped_sentiment_lm import LM_DIM, LM_EPOCHS, pretrain_lm, smoke_data  # noqa: E402
from shipped_sentiment_refit import read_window, rebranch, recalibrate, remix  # noqa: E402
from shipped_sentiment_rule import ship_refusal  # noqa: E402
from textlab.sentiment.config import FROM_LM_DEFAULTS, TrainSettings  # noqa: E402 (no torch: --help stays fast)

EN_OPTIONS = ["--lang", "en", "--vocab-size", "30000", "--embed-dim", "64", "--hidden", "64", "--max-len", "256",
              "--ngram-buckets", "60000", "--linear-buckets", str(1 << 21)]
DEFAULTS = {"en": (30.0, 6), "zh": (12.0, 10)}  # (--minutes, --epochs) the shipped models were built with
EN_W2V_OPTIONS = ["--lang", "en", "--dim", "64", "--epochs", "2", "--min-count", "5"]  # dim = --embed-dim
ZH_W2V_OPTIONS = ["--lang", "zh", "--dim", "64", "--epochs", "5", "--min-count", "3"]
ZH_OPTIONS = ["--lang", "zh", "--vocab-size", "30000", "--embed-dim", "64", "--hidden", "48", "--max-len", "150",
              "--ngram-buckets", "60000", "--linear-buckets", str(1 << 21)]
#: With --from-lm the LM sets the vocabulary and the recurrent shape: the options that remain.
#: English: 2^23 n-gram slots (IMDb's uni/bi/trigrams collide in 2^21: branch validation 0.9256
#: -> 0.9324, `rebranch en`); 2^23 did not help the Chinese model (its training set is 7x smaller).
FROM_LM_OPTIONS = {"en": ["--lang", "en", "--max-len", "256", "--bag-buckets", "60000",
                          "--ngram-branch-buckets", str(1 << 23)],
                   "zh": ["--lang", "zh", "--max-len", "150", "--bag-buckets", "60000",
                          "--ngram-branch-buckets", str(1 << 21)]}


def train_word_vectors(lang: str, work: Path) -> tuple[Path, dict]:
    """Train the in-domain word2vec model the embedding starts from (build step only, not shipped)."""
    corpus, info = imdb_unlabelled_text(work) if lang == "en" else chinese_unlabelled_text(work)
    w2v = work / ("imdb-w2v" if lang == "en" else "zh-w2v")
    args = ["train-w2v", str(corpus), *(EN_W2V_OPTIONS if lang == "en" else ZH_W2V_OPTIONS), "-o", str(w2v),
            "--force", "--json"]
    result = json.loads(textlab(*args))
    info.update({"command": "textlab " + " ".join(args), "tokens": result.get("tokens"),
                 "vocab_size": result.get("vocab_size"), "train_seconds": result.get("train_seconds")})
    return w2v, info

def build(lang: str, minutes: float, epochs: int, work: Path, keep_better: bool = False,
          from_model: Path | None = None, w2v_init: bool = True, from_lm: dict | None = None,
          sentence_crops: float | None = None, candidate: Path | None = None, max_len: int | None = None) -> dict:
    """Train (or take ``from_model``, a model trained by `textlab train-sentiment` on the same
    data), measure it once on the test/held-out data, record everything in its card, ship it.
    ``from_lm``: pretrain a word LM first and start from it ({"dim", "epochs", "minutes",
    "smoke"}; see scripts/shipped_sentiment_lm.py); it ships only if validation improves.
    ``sentence_crops``: train-sentiment's --sentence-crops (None: the recipe's default); given,
    the model ships only if validation improves. ``candidate``: where to copy the trained model.
    ``max_len``: the neural part then reads at most that many words (:func:`read_window`); the
    model ships only if validation improves."""
    model = work / lang
    w2v_info = lm_info = None
    if from_lm is not None:
        lm, lm_info = pretrain_lm(lang, work, from_lm["dim"], from_lm["epochs"], from_lm["minutes"], from_lm["smoke"],
                                  from_lm.get("existing"))
        keep_better, w2v_init = True, False
    if lang == "en":
        train_data, test_data, info = IMDB, IMDB, {"train_sources": ["aclImdb train split (25k labelled reviews)"],
                                                  "test": "aclImdb test split (25k reviews), measured once after training"}
        options = EN_OPTIONS
    else:
        train_data, valid_data, test_data, info = chinese_split(work)
        options = [*ZH_OPTIONS, "--valid-data", str(valid_data)]
    if from_lm is not None:
        options = [*FROM_LM_OPTIONS[lang], "--from-lm", str(lm)]
        if from_lm["smoke"]:
            train_data, valid_data, test_data, info = smoke_data(lang, work, from_lm["smoke"])
        if lang == "zh":
            options += ["--valid-data", str(valid_data)]
    if from_model is None and w2v_init:
        w2v, w2v_info = train_word_vectors(lang, work)
        options = [*options, "--pretrained-w2v", str(w2v)]
    if sentence_crops is not None:  # a trial of another recipe: it ships only if it beats the shipped one
        options, keep_better = [*options, "--sentence-crops", f"{sentence_crops:g}"], True
    if from_model is None:
        train_args = ["train-sentiment", str(train_data), *options, "--epochs", str(epochs), "--max-minutes",
                      str(minutes), "-o", str(model), "--force"]
        textlab(*train_args)
        command = "textlab " + " ".join(train_args)
    else:
        shutil.copytree(from_model, model)
        command = json.loads((model / "config.json").read_text(encoding="utf-8"))["command"]
    window = None
    if max_len is not None:  # chosen on validation, for speed: it ships only if it still beats the shipped one
        window, keep_better = read_window(lang, model, max_len, work), True
        print(json.dumps({"read_window": window}), file=sys.stderr, flush=True)
    result = json.loads(textlab("eval-sentiment", "--model", str(model), str(test_data), "--json"))
    card_path = model / "config.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card["metrics"].update({"test_accuracy": round(result["accuracy"], 4), "test_f1": round(result["f1"], 4),
                            "test_ece": round(result["ece"], 4),
                            "test_n": result["n"], "test_data": info.get("test") or info.get("heldout")})
    card["data"].update(info)
    if lm_info is not None:
        card["data"]["from_lm"] = {**card["data"]["from_lm"], **lm_info}
        card["data"]["train_sources"].append(lm_info["corpus"] + ": the word LM (train-lm) the classifier starts from")
    if w2v_info is not None:
        card["data"]["pretrained_w2v"] = {**(card["data"].get("pretrained_w2v") or {}), **w2v_info}
        card["data"]["train_sources"].append(w2v_info["corpus"] + ": word vectors (train-w2v) for the embedding init")
    card["command"] = command
    card["extra"]["built_by"] = "scripts/build_shipped_sentiment.py"
    card["extra"]["build_machine"] = (f"{os.cpu_count()} CPU cores, shared with other jobs "
                                      f"(1-minute load average {os.getloadavg()[0]:.1f} at the end of the build)")
    normalize_card(card)
    write_card(model, card)
    destination = TARGET / lang
    if from_lm is not None and from_lm["smoke"]:  # proves the steps; a smoke model never ships
        return {"lang": lang, "smoke": from_lm["smoke"], "shipped": False, "model": str(model),
                "valid_accuracy": card["metrics"]["valid_accuracy"], "test_accuracy": result["accuracy"],
                "valid_accuracy_first_sentence": card["metrics"].get("valid_accuracy_first_sentence"),
                "valid_accuracy_last_sentence": card["metrics"].get("valid_accuracy_last_sentence"),
                "lm_val_perplexity": lm_info["val_perplexity"], "lm_unigram_perplexity": lm_info["val_unigram_perplexity"]}
    why = ship_refusal(lang, model, card, work, destination) \
        if keep_better and (destination / "config.json").is_file() else None
    if candidate is not None:
        shutil.copytree(model, candidate)
    if why is not None:
        print(f"kept the shipped {lang} model: {why}", file=sys.stderr)
        return {"lang": lang, "shipped": False, "valid_accuracy": card["metrics"]["valid_accuracy"],
                "test_accuracy": result["accuracy"], "n": result["n"], "pretrained_w2v": w2v_info,
                "kept_because": why, "candidate": str(candidate) if candidate else None, "read_window": window}
    staging = TARGET / f".{lang}.new"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(model, staging)
    shutil.rmtree(destination, ignore_errors=True)
    staging.rename(destination)
    destination.chmod(0o755)  # package data: readable by everyone (the store writes private files)
    for item in destination.iterdir():
        item.chmod(0o644)
    size = sum(p.stat().st_size for p in destination.iterdir())
    return {"lang": lang, "test_accuracy": result["accuracy"], "n": result["n"], "valid_accuracy": card["metrics"]["valid_accuracy"],
            "train_minutes": card["metrics"]["train_minutes"], "bytes": size, "read_window": window}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lang", choices=["en", "zh", "all", "finalize", "recalibrate", "remix", "rebranch"],
                        help="finalize: only normalise the cards and file modes of the shipped models; "
                             "recalibrate: only fit their calibration; remix: their mix and calibration (see below)")
    parser.add_argument("which", nargs="?", choices=["en", "zh", "all"], default="all",
                        help="with recalibrate, remix or rebranch: which shipped model(s)")
    parser.add_argument("--ngram-branch-buckets", type=int, default=1 << 23, metavar="N",
                        help="with rebranch: the n-gram branch's hashed slots (default 2^23)")
    parser.add_argument("--minutes", type=float, default=None, help="training time limit per model "
                        f"(default: {DEFAULTS['en'][0]:g} for en, {DEFAULTS['zh'][0]:g} for zh)")
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"(default: {DEFAULTS['en'][1]} for en, {DEFAULTS['zh'][1]} for zh)")
    parser.add_argument("--keep-better", action="store_true",
                        help="replace the shipped model only if the new one has a higher validation accuracy "
                             "on the same data (the test/held-out figures never choose)")
    parser.add_argument("--from-model", type=Path, default=None,
                        help="ship this model (trained by `textlab train-sentiment` on the same data) instead of training")
    parser.add_argument("--no-w2v", action="store_true",
                        help="random embedding init (skip the in-domain train-w2v step)")
    parser.add_argument("--from-lm", action="store_true",
                        help="pretrain a word LM (train-lm) and start the classifier from it; ships only if "
                             "validation improves on the shipped model")
    parser.add_argument("--lm-dim", type=int, default=LM_DIM, help="the LM's embedding and LSTM size (E = H)")
    parser.add_argument("--lm-epochs", type=int, default=LM_EPOCHS, help="passes of train-lm over its corpus")
    parser.add_argument("--lm-minutes", type=float, default=None, help="train-lm time limit")
    parser.add_argument("--lm", type=Path, default=None, metavar="DIR",
                        help="with --from-lm: this word LM, trained by the same recipe (train-lm on the same corpus "
                             "with the same options), instead of pretraining one")
    parser.add_argument("--smoke", type=int, default=0, metavar="N",
                        help="with --from-lm: N labelled reviews, 4N LM documents, tiny LM; never ships")
    parser.add_argument("--sentence-crops", type=float, default=None, metavar="F",
                        help="train-sentiment --sentence-crops F (default: "
                             f"{TrainSettings.sentence_crops:g}, with --from-lm {FROM_LM_DEFAULTS['sentence_crops']:g}); "
                             "given, the model ships only if validation improves on the shipped model")
    parser.add_argument("--max-len", type=int, default=None, metavar="N",
                        help="after training (or with --from-model), the neural part reads at most N words; "
                             "validation, short views and calibration measured again; ships only if validation "
                             "still beats the shipped model and the speed rule holds")
    parser.add_argument("--candidate", type=Path, default=None, metavar="DIR",
                        help="copy the trained model (card complete) to DIR, a new directory, shipped or not")
    args = parser.parse_args()
    if args.sentence_crops is not None and args.from_model is not None:
        parser.error("--sentence-crops trains; --from-model takes a trained model")
    if args.candidate is not None and (args.candidate.exists() or args.lang not in ("en", "zh") or args.smoke):
        parser.error(f"--candidate {args.candidate}: " + ("exists" if args.candidate.exists() else
                                                           "a smoke model is not kept" if args.smoke else "one language"))
    from_lm = None
    if args.from_lm:
        from_lm = {"dim": 16 if args.smoke else args.lm_dim, "epochs": args.lm_epochs, "minutes": args.lm_minutes,
                   "smoke": args.smoke, "existing": args.lm}
    if args.lang == "finalize":
        finalize_shipped()
        return
    if args.lang == "rebranch":
        if not 1 << 10 <= args.ngram_branch_buckets <= 1 << 26:
            parser.error(f"--ngram-branch-buckets {args.ngram_branch_buckets}: use 2^10 to 2^26 slots")
        sys.path.insert(0, str(REPO))
        with tempfile.TemporaryDirectory(prefix="textlab-shipped-") as tmp:
            for lang in (["en", "zh"] if args.which == "all" else [args.which]):
                print(json.dumps(rebranch(lang, args.ngram_branch_buckets, Path(tmp))), flush=True)
        finalize_shipped()
        return
    if args.lang in ("recalibrate", "remix"):
        sys.path.insert(0, str(REPO))
        refit = recalibrate if args.lang == "recalibrate" else remix
        with tempfile.TemporaryDirectory(prefix="textlab-shipped-") as tmp:
            for lang in (["en", "zh"] if args.which == "all" else [args.which]):
                print(json.dumps(refit(lang, Path(tmp))), flush=True)
        finalize_shipped()
        return
    with tempfile.TemporaryDirectory(prefix="textlab-shipped-") as tmp:
        for lang in (["en", "zh"] if args.lang == "all" else [args.lang]):
            minutes, epochs = args.minutes or DEFAULTS[lang][0], args.epochs or DEFAULTS[lang][1]
            print(json.dumps(build(lang, minutes, epochs, Path(tmp), args.keep_better, args.from_model,
                                   not args.no_w2v, from_lm, args.sentence_crops, args.candidate, args.max_len)),
                  flush=True)


if __name__ == "__main__":
    main()
