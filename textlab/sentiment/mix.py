"""Stage 4 of training: the logit mix of the neural part and the n-gram branch, fitted on the
validation part and snippets of each validation review (so that its short-text terms learn
how the two parts compare on a few words, see :mod:`textlab.sentiment.model`), or one part alone
when that part scores higher on the validation reviews (the saved model is never worse on
validation than its best part)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from textlab.runtime.output import say
from textlab.sentiment.calibrate import SNIPPETS_PER_REVIEW, snippets
from textlab.sentiment.config import mix_logits
from textlab.sentiment.data import EncodedReviews, encode_reviews
from textlab.sentiment.linear import accuracy, fit_mix, log_loss
from textlab.sentiment.model import SentimentModel
from textlab.sentiment.neural_phase import NeuralProgress, predict_logits
from textlab.sentiment.parts import make_encoder
from textlab.sentiment.prepare import Prepared
from textlab.sentiment.saved import STORAGE_DTYPE

#: The mixes a part alone answers with (m0..m5, see :mod:`textlab.sentiment.model`).
NEURAL_ALONE = torch.tensor([1.0, 0.0, 0.0, 0.0, 0.0, 0.0])
NGRAM_ALONE = torch.tensor([0.0, 1.0, 0.0, 0.0, 0.0, 0.0])


@dataclass
class Snippets:
    """:data:`~textlab.sentiment.calibrate.SNIPPETS_PER_REVIEW` snippets of 1-64 words of each
    validation review (:func:`~textlab.sentiment.calibrate.snippets`, labelled with its review's
    label): the short texts the mix and the calibration are fitted on."""

    data: EncodedReviews

    @classmethod
    def of(cls, prepared: Prepared, seed: int) -> "Snippets":
        tokens, labels = snippets(prepared.valid_tokens, prepared.valid.labels, seed, per_review=SNIPPETS_PER_REVIEW)
        return cls(encode_reviews(tokens, range(len(tokens)), labels, make_encoder(prepared.config, prepared.vocab)))

    @property
    def labels(self) -> np.ndarray:
        return np.asarray(self.data.labels, dtype=np.int64)

    @property
    def words(self) -> np.ndarray:
        return np.asarray(self.data.words, dtype=np.float64)

    def part_logits(self, model: SentimentModel, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
        """(neural, n-gram branch) logits of the snippets."""
        if not len(self.data):
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.float32)
        return (predict_logits(model, self.data, device, part="neural"),
                predict_logits(model, self.data, device, part="ngram"))


def mixed_logits(mix: torch.Tensor, neural: np.ndarray, ngram: np.ndarray, words: np.ndarray | None = None) -> np.ndarray:
    """The saved model's logit for these part logits (``mix``: m0..m5; ``words`` None: m0..m2 alone)."""
    return mix_logits(mix.double().numpy(), neural, ngram, words)


def choose_mix(neural: np.ndarray, ngram: np.ndarray, labels, words: np.ndarray | None = None,
               short: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None) -> tuple[torch.Tensor, str, dict]:
    """The mix to save (m0..m5): the one fitted on the validation reviews (part logits ``neural``,
    ``ngram``, their word counts ``words``) and ``short`` = (neural, ngram, labels, words) of
    their snippets (None: one mix for every length), unless a part alone scores a higher
    accuracy on the validation reviews (then that part alone: the saved model is never worse on
    validation than its best part). Returns (mix, which, validation accuracy per candidate). A
    validation part with one label cannot choose (a fitted mix would learn a constant answer):
    the two logits are added."""
    if len(set(labels)) < 2:
        return torch.tensor([1.0, 1.0, 0.0, 0.0, 0.0, 0.0]), "sum (one label in the validation part)", {}
    if short is not None and words is not None and len(short[0]):
        fitted = fit_mix(np.concatenate([neural, short[0]]), np.concatenate([ngram, short[1]]),
                         np.concatenate([np.asarray(labels), short[2]]), np.concatenate([words, short[3]]))
    else:
        fitted, words = fit_mix(neural, ngram, labels), None
    candidates = {"fitted mix": fitted, "neural part alone": NEURAL_ALONE, "n-gram branch alone": NGRAM_ALONE}
    scores = {}
    for name, mix in candidates.items():
        logits = mixed_logits(mix, neural, ngram, words)
        scores[name] = (accuracy(logits, labels), -log_loss(logits, labels))
    which = "fitted mix"
    for name in ("neural part alone", "n-gram branch alone"):
        if scores[name][0] > scores[which][0]:
            which = name
    return candidates[which], which, {name: round(score[0], 4) for name, score in scores.items()}


def fit_and_set_mix(model: SentimentModel, prepared: Prepared, neural: np.ndarray, ngram: np.ndarray, short: Snippets,
                    device: torch.device) -> tuple[torch.Tensor, str, dict]:
    """Choose the mix (:func:`choose_mix`) from the validation part's part logits ``neural``,
    ``ngram`` and the snippets' (computed here with ``model``'s parts), and set it in ``model``
    as its weights file keeps it (m0..m2 in float16: every figure measured from here on is the
    saved model's). Returns what :func:`choose_mix` returns."""
    words = np.asarray(prepared.valid.words, dtype=np.float64)
    mix, which, candidates = choose_mix(neural, ngram, prepared.valid.labels, words,
                                        (*short.part_logits(model, device), short.labels, short.words))
    mix[:3] = mix[:3].to(STORAGE_DTYPE).float()
    model.set_mix(mix)
    return mix, which, candidates


def mix_metrics(mix: torch.Tensor, which: str, candidates: dict, logits: np.ndarray, labels) -> dict:
    """The card's figures of a chosen mix: its six numbers, the choice, every candidate's
    validation accuracy, and the mixed model's validation accuracy and loss (``logits``)."""
    return {"mix": [round(float(v), 4) for v in mix], "mix_choice": which, "mix_candidates": candidates,
            "valid_accuracy": round(accuracy(logits, labels), 4), "valid_loss": round(log_loss(logits, labels), 4)}


def mix_stage(model: SentimentModel, prepared: Prepared, progress: NeuralProgress, ngram: dict | None,
              short: Snippets, device: torch.device) -> dict:
    """Set the model's mix and return the metrics of the parts and of the saved model."""
    labels = prepared.valid.labels
    words = np.asarray(prepared.valid.words, dtype=np.float64)
    neural = progress.epoch_logits[progress.best_epoch - 1]
    metrics = {"neural_valid_accuracy": round(accuracy(neural, labels), 4)}
    if ngram is None:
        metrics.update({"valid_accuracy": metrics["neural_valid_accuracy"], "valid_loss": round(log_loss(neural, labels), 4)})
        return {"metrics": metrics, "valid_logits": neural}
    mix, which, candidates = fit_and_set_mix(model, prepared, neural, ngram["valid_logits"], short, device)
    mixed = mixed_logits(mix, neural, ngram["valid_logits"], words)
    metrics.update(ngram["metrics"])
    metrics.update(mix_metrics(mix, which, candidates, mixed, labels))
    if not candidates:
        say("the validation part holds one label only: the two parts' logits are added, not fitted", style="yellow")
    elif which != "fitted mix":
        say(f"the fitted mix scored {candidates['fitted mix']:.4f} on validation, the {which} "
            f"{candidates[which]:.4f}: the model answers with the {which}", style="yellow")
    return {"metrics": metrics, "valid_logits": mixed}
