"""Stage 4 of training: the logit mix of the neural part and the n-gram branch, fitted on the
validation part, or one part alone when it scores higher there (the saved model is never worse
on validation than its best part)."""

from __future__ import annotations

import numpy as np
import torch

from textlab.runtime.output import say
from textlab.sentiment.linear import accuracy, fit_mix, log_loss
from textlab.sentiment.model import SentimentModel
from textlab.sentiment.neural_phase import NeuralProgress
from textlab.sentiment.prepare import Prepared


def mixed_logits(mix: torch.Tensor, neural: np.ndarray, ngram: np.ndarray) -> np.ndarray:
    """The saved model's logit: ``mix[0] * neural + mix[1] * ngram + mix[2]``."""
    return float(mix[0]) * neural + float(mix[1]) * ngram + float(mix[2])


def choose_mix(neural: np.ndarray, ngram: np.ndarray, labels) -> tuple[torch.Tensor, str, dict]:
    """The mix to save: the one fitted on the validation part, unless a part alone scores a
    higher validation accuracy (then that part alone: the saved model is never worse on
    validation than its best part). Returns (mix, which, validation accuracy per candidate).
    A validation part with one label cannot choose (a fitted mix would learn a constant
    answer): the two logits are added."""
    if len(set(labels)) < 2:
        return torch.tensor([1.0, 1.0, 0.0]), "sum (one label in the validation part)", {}
    fitted = fit_mix(neural, ngram, labels)
    candidates = {"fitted mix": fitted, "neural part alone": torch.tensor([1.0, 0.0, 0.0]),
                  "n-gram branch alone": torch.tensor([0.0, 1.0, 0.0])}
    scores = {}
    for name, mix in candidates.items():
        logits = mixed_logits(mix, neural, ngram)
        scores[name] = (accuracy(logits, labels), -log_loss(logits, labels))
    which = "fitted mix"
    for name in ("neural part alone", "n-gram branch alone"):
        if scores[name][0] > scores[which][0]:
            which = name
    return candidates[which], which, {name: round(score[0], 4) for name, score in scores.items()}


def mix_stage(model: SentimentModel, prepared: Prepared, progress: NeuralProgress, ngram: dict | None) -> dict:
    """Set ``model.mix`` and return the metrics of the parts and of the saved model."""
    labels = prepared.valid.labels
    neural = progress.epoch_logits[progress.best_epoch - 1]
    metrics = {"neural_valid_accuracy": round(accuracy(neural, labels), 4)}
    if ngram is None:
        metrics.update({"valid_accuracy": metrics["neural_valid_accuracy"], "valid_loss": round(log_loss(neural, labels), 4)})
        return {"metrics": metrics, "valid_logits": neural}
    mix, which, candidates = choose_mix(neural, ngram["valid_logits"], labels)
    model.mix.copy_(mix.to(model.mix.device))
    mixed = mixed_logits(mix, neural, ngram["valid_logits"])
    metrics.update(ngram["metrics"])
    metrics.update({"mix": [round(float(v), 4) for v in mix], "mix_choice": which, "mix_candidates": candidates,
                    "valid_accuracy": round(accuracy(mixed, labels), 4), "valid_loss": round(log_loss(mixed, labels), 4)})
    if not candidates:
        say("the validation part holds one label only: the two parts' logits are added, not fitted", style="yellow")
    elif which != "fitted mix":
        say(f"the fitted mix scored {candidates['fitted mix']:.4f} on validation, the {which} "
            f"{candidates[which]:.4f}: the model answers with the {which}", style="yellow")
    return {"metrics": metrics, "valid_logits": mixed}
