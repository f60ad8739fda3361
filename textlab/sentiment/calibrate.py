"""Calibrated probabilities: ``P(positive) = sigmoid(logit / T(words))``, with a temperature that
depends on the length of the text, fitted on the validation part after the mix is chosen.

Why length: the logits are fitted (the mix, on the validation part) for whole reviews, and on
whole reviews they are already calibrated (shipped English model: expected calibration error
0.006 on the IMDb test split). Short texts are another matter: a sentence or a word gives the
neural part a few steps to pool and the bag a mean over a handful of n-grams, and its logit
comes out as large as a long review's (``x`` -> 1.0000, ``Not bad at all.`` -> 0.9998 before).
So the fit also sees *snippets*: for every validation review, a random run of 1 to
``SNIPPET_MAX_WORDS`` of its words, labelled with the review's label (what a short text tells
about the review it comes from). ``T(n) = base + scale * n ** -power`` is fitted by maximum
likelihood on the reviews and their snippets together: about 1 for whole reviews, large for one
or two words. A positive temperature never changes a label, only how sure the answer is.

The expected calibration error (ECE) is the usual one: 15 equal-width bins of the confidence of
the predicted label, the mean |accuracy - confidence| weighted by the share of texts in each bin.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from textlab.errors import DataError

ECE_BINS = 15
SNIPPET_MAX_WORDS = 64
#: Snippets cut from each validation review for the fits of the mix and the calibration: four,
#: since one per review left the in-sample snippet ECE of 995 Chinese reviews swinging between
#: 0.022 and 0.037 with the draw (seeds 1-8, shipped model).
SNIPPETS_PER_REVIEW = 4
#: Accepted ranges of the saved parameters (a card is data: checked before use).
LIMITS = {"base": (0.05, 100.0), "scale": (0.0, 10_000.0), "power": (0.0, 4.0)}


@dataclass(frozen=True)
class Calibration:
    """``T(words) = base + scale * words ** -power`` (the default, T = 1, changes nothing)."""

    base: float = 1.0
    scale: float = 0.0
    power: float = 1.0

    def temperature(self, words):
        """T for token counts ``words`` (a numpy array or a tensor on any device; >= 1 is used)."""
        if hasattr(words, "clamp_min"):  # a tensor (tested without importing torch)
            return self.base + self.scale * words.clamp_min(1.0).pow(-self.power)
        return self.base + self.scale * np.maximum(np.asarray(words, dtype=np.float64), 1.0) ** -self.power

    def apply(self, logits, words):
        """Calibrated logits (same type and device as ``logits``)."""
        if self.scale == 0.0 and self.base == 1.0:
            return logits
        return logits / self.temperature(words)

    def to_dict(self) -> dict:
        return {k: round(v, 6) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, raw, where: str) -> "Calibration":
        if not isinstance(raw, dict) or set(raw) != set(LIMITS):
            raise DataError(f"{where}: the calibration needs exactly the numbers {', '.join(LIMITS)}")
        for name, (low, high) in LIMITS.items():
            value = raw[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise DataError(f"{where}: calibration {name}={value!r} is outside [{low}, {high}]")
        return cls(**{k: float(v) for k, v in raw.items()})


def expected_calibration_error(probabilities: Sequence[float], labels: Sequence[int], bins: int = ECE_BINS) -> float:
    counter = CalibrationBins(bins)
    counter.add(probabilities, labels)
    return counter.ece()


class CalibrationBins:
    """Streaming ECE: counts, summed confidences and correct answers per confidence bin."""

    def __init__(self, bins: int = ECE_BINS):
        self.bins = bins
        self.count = np.zeros(bins, dtype=np.int64)
        self.confidence = np.zeros(bins)
        self.correct = np.zeros(bins)

    def add(self, probabilities: Sequence[float], labels: Sequence[int]) -> None:
        p = np.asarray(probabilities, dtype=np.float64)
        if not len(p):
            return
        predicted = (p >= 0.5).astype(int)
        confidence = np.where(predicted == 1, p, 1.0 - p)
        index = np.minimum((confidence * self.bins).astype(int), self.bins - 1)
        np.add.at(self.count, index, 1)
        np.add.at(self.confidence, index, confidence)
        np.add.at(self.correct, index, (predicted == np.asarray(labels)).astype(float))

    def ece(self) -> float:
        total = self.count.sum()
        if not total:
            return 0.0
        used = self.count > 0
        gap = np.abs(self.correct[used] - self.confidence[used])  # = count * |accuracy - confidence|
        return float(gap.sum() / total)


def snippets(token_lists: Sequence[Sequence[str]], labels: Sequence[int], seed: int,
             max_words: int = SNIPPET_MAX_WORDS, per_review: int = 1) -> tuple[list[list[str]], list[int]]:
    """``per_review`` snippets of each review of at least 2 words: a run of 1..min(max_words,
    words - 1) words (length drawn log-uniformly, so one-word and 30-word snippets are both
    common) at a random place, with the review's label."""
    rng = np.random.default_rng(seed)
    texts, kept = [], []
    for tokens, label in zip(token_lists, labels):
        longest = min(max_words, len(tokens) - 1)
        if longest < 1:
            continue
        for _ in range(per_review):
            size = min(longest, int(math.exp(rng.uniform(0.0, math.log(longest + 1)))))
            start = int(rng.integers(0, len(tokens) - size + 1))
            texts.append(list(tokens[start: start + size]))
            kept.append(int(label))
    return texts, kept


def fit_calibration(logits: np.ndarray, words: np.ndarray, labels: Sequence[int]) -> Calibration:
    """Maximum-likelihood ``T(words)`` for these logits (host arrays; reviews and snippets
    together). Falls back to T = 1 when there is nothing to fit (one label, or no texts)."""
    import torch
    import torch.nn.functional as F

    labels = np.asarray(labels)
    if len(labels) < 2 or len(set(labels.tolist())) < 2:
        return Calibration()
    z = torch.from_numpy(np.clip(np.asarray(logits, dtype=np.float64), -80, 80))
    log_n = torch.from_numpy(np.log(np.maximum(np.asarray(words, dtype=np.float64), 1.0)))
    y = torch.from_numpy(labels.astype(np.float64))
    low, high = math.log(LIMITS["base"][0]), math.log(LIMITS["base"][1])
    params = torch.zeros(3, dtype=torch.float64, requires_grad=True)  # log base, log scale, log power
    optimizer = torch.optim.LBFGS([params], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def temperature():
        base = params[0].clamp(low, high).exp()
        return base + params[1].clamp(-30, math.log(LIMITS["scale"][1])).exp() * \
            torch.exp(-params[2].clamp(-10, math.log(LIMITS["power"][1])).exp() * log_n)

    def closure():
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(z / temperature(), y)
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        base, scale, power = (float(v) for v in params)
    fitted = Calibration(base=min(max(math.exp(base), LIMITS["base"][0]), LIMITS["base"][1]),
                         scale=min(math.exp(max(scale, -30)), LIMITS["scale"][1]),
                         power=min(math.exp(max(power, -10)), LIMITS["power"][1]))
    if not all(math.isfinite(v) for v in asdict(fitted).values()):
        return Calibration()
    return fitted
