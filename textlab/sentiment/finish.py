"""Stages 5 and 6 of training, and :func:`finish`, which runs stages 4-6 in order: the mix
(:mod:`textlab.sentiment.mix`), the calibration (the temperature of
:mod:`textlab.sentiment.calibrate`), and saving the model directory, its card and
``curve.png`` (every part per epoch)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from textlab.plots import CURVE_FILE, render_training_curve
from textlab.runtime.output import say
from textlab.sentiment.calibrate import SNIPPETS_PER_REVIEW, Calibration, expected_calibration_error, fit_calibration
from textlab.sentiment.linear import accuracy, log_loss
from textlab.sentiment.mix import Snippets, choose_mix, mix_stage, mixed_logits
from textlab.sentiment.model import SentimentModel
from textlab.sentiment.neural_phase import NeuralProgress, predict_logits
from textlab.sentiment.prepare import Prepared
from textlab.sentiment.run_plan import Clock, Run
from textlab.sentiment.saved import save_sentiment
from textlab.sentiment.state import TrainingState

#: The card's short-input figures (:mod:`textlab.sentiment.short_inputs`): the saved model's
#: accuracy on each validation review's first / last sentence.
SHORT_VIEW_METRICS = {"valid_accuracy_first_sentence": "first", "valid_accuracy_last_sentence": "last"}


def short_view_metrics(model: SentimentModel, prepared: Prepared, device: torch.device) -> dict:
    """The saved model (mixed; the calibration keeps every sign) on the short-input views."""
    metrics = {}
    for name, view in SHORT_VIEW_METRICS.items():
        data = prepared.views.get(view)
        if data is not None and len(data):
            logits = predict_logits(model, data, device, part="mixed")
            metrics[name] = round(accuracy(logits, data.labels), 4)
    return metrics


def calibrate_stage(model: SentimentModel, prepared: Prepared, valid_logits: np.ndarray, short: Snippets,
                    device: torch.device) -> tuple[Calibration, dict]:
    """Fit the length-dependent temperature on the validation reviews and snippets of them."""
    labels = np.asarray(prepared.valid.labels)
    snippet_labels = short.labels
    snippet_logits = predict_logits(model, short.data, device, part="mixed") if len(short.data) else \
        np.zeros(0, dtype=np.float32)
    words = np.concatenate([np.asarray(prepared.valid.words, dtype=np.float64), short.words])
    logits = np.concatenate([valid_logits, snippet_logits])
    all_labels = np.concatenate([labels, snippet_labels.astype(labels.dtype)])
    calibration = fit_calibration(logits, words, all_labels)

    def ece(z, n, y, calibrated):
        z = calibration.apply(z, n) if calibrated else z
        return round(expected_calibration_error(1 / (1 + np.exp(-np.clip(z, -80, 80))), y), 4)

    n_valid = np.asarray(prepared.valid.words, dtype=np.float64)
    n_snip = short.words
    report = {"temperature": calibration.to_dict(), "formula": "P(positive) = sigmoid(logit / (base + scale * words ** -power))",
              "fitted_on": f"the validation part ({len(labels):,} reviews) and {SNIPPETS_PER_REVIEW} snippets of 1-64 words of each "
                           f"({len(short.data):,}, labelled with its review's label)",
              "valid_ece_before": ece(valid_logits, n_valid, labels, False), "valid_ece": ece(valid_logits, n_valid, labels, True),
              "snippet_ece_before": ece(snippet_logits, n_snip, snippet_labels, False),
              "snippet_ece": ece(snippet_logits, n_snip, snippet_labels, True)}
    return calibration, report


def training_curve(progress: NeuralProgress, ngram: dict | None, prepared: Prepared, metrics: dict,
                   title: str) -> bytes | None:
    """Validation loss per epoch of every part (neural, n-gram branch at its chosen rate, and
    the mix the model would have with the neural part of that epoch) and the mixed model's
    validation accuracy; the legend gives the validation accuracy of what was kept."""
    labels = prepared.valid.labels
    losses = {f"neural part (kept: acc {metrics['neural_valid_accuracy']:.4f})":
              [h["valid_loss"] for h in progress.history]}
    accuracies = {}
    if ngram is not None:
        losses[f"n-gram branch (kept: acc {metrics['ngram_branch_valid_accuracy']:.4f})"] = \
            [h["valid_loss"] for h in ngram["history"]]
        mixed_loss, mixed_accuracy = [], []
        for neural in progress.epoch_logits:
            mix, _, _ = choose_mix(neural, ngram["valid_logits"], labels)
            mixed = mixed_logits(mix, neural, ngram["valid_logits"])
            mixed_loss.append(round(log_loss(mixed, labels), 4))
            mixed_accuracy.append(round(accuracy(mixed, labels), 4))
        losses[f"mixed (saved: acc {metrics['valid_accuracy']:.4f})"] = mixed_loss
        accuracies["mixed valid accuracy"] = mixed_accuracy
    else:
        accuracies["neural valid accuracy"] = [h["valid_accuracy"] for h in progress.history]
    return render_training_curve({f"valid loss: {k}": v for k, v in losses.items()}, title, secondary=accuracies)


def save_stage(output: Path, model: SentimentModel, prepared: Prepared, metrics: dict, calibration: Calibration,
               calibration_report: dict, curve: bytes | None, command: str, extra: dict, force: bool) -> None:
    save_sentiment(output, model, prepared.vocab, prepared.data, metrics, command=command,
                   extra={**extra, "calibration_fit": calibration_report}, force=force,
                   extra_files={CURVE_FILE: curve} if curve else None, calibration=calibration)


def finish(output: Path, run: Run, prepared: Prepared, state: TrainingState, clock: Clock, seconds: dict,
           device: torch.device, force: bool) -> dict:
    """Stages 4-6: mix, calibrate, save. Returns the card's metrics."""
    started = clock.used()
    model, progress, ngram = state.model, state.progress, state.ngram
    short = Snippets.of(prepared, run.settings.seed)
    mixed = mix_stage(model, prepared, progress, ngram, short, device)
    metrics = mixed["metrics"]
    calibration, report = calibrate_stage(model, prepared, mixed["valid_logits"], short, device)
    metrics.update(short_view_metrics(model, prepared, device))
    seconds["mix_and_calibration"] = round(clock.used() - started, 2)
    metrics.update({"best_epoch": progress.best_epoch, "history": progress.history,
                    "train_minutes": round(clock.used() / 60, 2), "device": str(device), "seconds": seconds,
                    "valid_ece": report["valid_ece"], **({"threads": progress.threads} if progress.threads else {})})
    if ngram is not None:
        metrics["ngram_branch_history"] = ngram["history"]
        say(f"n-gram branch {metrics['ngram_branch_valid_accuracy']:.4f}, neural "
            f"{metrics['neural_valid_accuracy']:.4f}, saved model {metrics['valid_accuracy']:.4f} "
            f"(validation accuracy; {metrics['mix_choice']} {metrics['mix']})")
    if "valid_accuracy_first_sentence" in metrics:
        say(f"short inputs: first sentence {metrics['valid_accuracy_first_sentence']:.4f}, last sentence "
            f"{metrics['valid_accuracy_last_sentence']:.4f} (validation reviews' first/last sentence, "
            f"full reviews {metrics['valid_accuracy']:.4f})")
    prepared.data.update({"pretrained_w2v": state.init.get("pretrained_w2v"), **({"from_lm": state.init["from_lm"]}
                                                                                  if state.init.get("from_lm") else {})})
    curve = training_curve(progress, ngram, prepared, metrics, f"sentiment: {Path(run.dataset).name}")
    extra = {"training": asdict(run.settings), **({"resumed": run.resumes} if run.resumes else {})}
    save_stage(output, model, prepared, metrics, calibration, report, curve, run.command, extra, force)
    return metrics
