"""The n-gram branch: logistic regression over hashed binary word n-grams scaled by naive-Bayes
log-count ratios (the NBSVM idea of Wang & Manning 2012, trained with AdamW in torch).

Why a second model inside the sentiment model: on IMDb a recurrent model reading a truncated
review and a linear model seeing every uni/bi/trigram of the whole review make different
errors; their logits, mixed with three weights fitted on the validation part, beat either.

Features: every distinct n-gram (n = 1..``max_n``) of the first ``max_words`` tokens, hashed
(CRC-32 of each word, combined per n-gram, stable across processes and machines) into
``buckets`` slots; optionally also the character 1..``max_n``-grams of those tokens (Chinese
word segmentation errs, and character n-grams of Chinese reviews carry much of the signal).
A review's logit is ``sum(weight[f] * ratio[f] for f in its n-grams) + bias``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from textlab.sentiment.config import short_weight
from textlab.sentiment.hashing import (  # noqa: F401  (the branch's features; names kept here)
    INT8_BLOCK, dequantize_int8_array, flat_arrays, hashed_ngrams, int8_scales_shape, word_hashes,
)


def _blocks(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` flattened to float32 and zero-padded into rows of ``INT8_BLOCK``."""
    flat = tensor.detach().reshape(-1).float()
    return F.pad(flat, (0, (-len(flat)) % INT8_BLOCK)).view(-1, INT8_BLOCK)


def _unblock(blocks: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return blocks.reshape(-1)[: like.numel()].reshape(like.shape)


def quantize_int8(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 with one float32 scale per block of ``INT8_BLOCK`` consecutive weights
    (hash slots are in random order, so every block sees the whole weight distribution)."""
    blocks = _blocks(weight)
    scales = blocks.abs().amax(dim=1).clamp_min(1e-12) / 127.0
    quantized = torch.round(blocks / scales[:, None]).clamp(-127, 127).to(torch.int8)
    return _unblock(quantized, weight), scales


def dequantize_int8(quantized: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(dequantize_int8_array(quantized.numpy(), scales.numpy()))


def flatten(bags: Sequence[np.ndarray], pin: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(flat ids, offsets) as EmbeddingBag takes them; in page-locked memory with ``pin`` (for
    an asynchronous copy to a CUDA device)."""
    flat, offsets = flat_arrays(bags)
    return pinned(torch.from_numpy(flat), pin), pinned(torch.from_numpy(offsets), pin)


def pinned(tensor: torch.Tensor, pin: bool) -> torch.Tensor:
    """``tensor`` in page-locked memory when it is bound for a CUDA device (the copy to the
    device can then run asynchronously, without a host synchronisation)."""
    return tensor.pin_memory() if pin else tensor


class RunningLoss:
    """Training losses summed on the device; read (one host synchronisation) only when asked,
    every ``every`` steps or at the end of an epoch, never per step."""

    def __init__(self, every: int = 50):
        self.every = every
        self.total: torch.Tensor | None = None
        self.steps = 0

    def add(self, loss: torch.Tensor) -> None:
        self.total = loss.detach() if self.total is None else self.total + loss.detach()
        self.steps += 1

    def due(self) -> bool:
        return self.steps >= self.every

    def read(self) -> float | None:
        """The mean since the last read (None if no step), and start again."""
        if self.total is None:
            return None
        mean = float(self.total) / self.steps
        self.total, self.steps = None, 0
        return mean


class NgramLinear(nn.Module):
    """``logit = sum(weight[f]) + bias`` over a review's hashed n-grams. While training, each
    weight is ``w[f] * ratio[f]`` (the NB ratio scales the feature; L2 acts on ``w``);
    :meth:`fold_ratio` bakes the product in for saving and inference."""

    def __init__(self, buckets: int, draw_init: bool = True):
        super().__init__()
        if draw_init:  # the default init draws from torch's RNG (the model's init sequence relies on it)
            self.weight = nn.EmbeddingBag(buckets, 1, mode="sum")
            nn.init.zeros_(self.weight.weight)
        else:  # zeros without drawing: training the branch leaves torch's RNG where it was
            self.weight = nn.EmbeddingBag(buckets, 1, mode="sum", _weight=torch.zeros(buckets, 1))
        self.bias = nn.Parameter(torch.zeros(1))
        self.ratio: torch.Tensor | None = None  # set only while training (not saved)

    def forward(self, flat: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        scale = None if self.ratio is None else self.ratio[flat]
        return self.weight(flat, offsets, per_sample_weights=scale).squeeze(-1) + self.bias

    @torch.no_grad()
    def fold_ratio(self) -> None:
        if self.ratio is not None:
            self.weight.weight.mul_(self.ratio.unsqueeze(-1))
            self.ratio = None


def nb_ratio(bags: Sequence[np.ndarray], labels: Sequence[int], buckets: int, alpha: float = 1.0) -> np.ndarray:
    """Naive-Bayes log-count ratio per bucket from binary n-gram presence."""
    labels = np.asarray(labels)
    positive = np.full(buckets, alpha)
    negative = np.full(buckets, alpha)
    for bag, label in zip(bags, labels):
        (positive if label == 1 else negative)[bag] += 1.0
    return np.log(positive / positive.sum()) - np.log(negative / negative.sum())


@dataclass
class LinearSettings:
    epochs: int = 8  # per rate; train-sentiment bounds it by --epochs
    batch_size: int = 256
    # tried in turn; the run with the best validation loss is kept. Adam moves every weight a
    # review touches by about the rate, so on a small set a high rate overfits the rare n-grams
    # within an epoch, while on IMDb a low one needs many epochs: the data choose.
    learning_rates: tuple[float, ...] = (0.02, 0.005, 0.0015)
    weight_decay: float = 1e-4  # L2 on the weights (the ratios already carry the scale)
    seed: int = 1


@torch.no_grad()
def linear_logits(model: NgramLinear, bags: Sequence[np.ndarray], batch_size: int = 1024) -> np.ndarray:
    """The branch's logits for ``bags`` (on the model's device; one copy back at the end)."""
    device = model.bias.device
    pin = device.type == "cuda"
    out = []
    for start in range(0, len(bags), batch_size):
        flat, offsets = flatten(bags[start: start + batch_size], pin)
        out.append(model(flat.to(device, non_blocking=True), offsets.to(device, non_blocking=True)))
    return torch.cat(out).float().cpu().numpy() if out else np.zeros(0, dtype=np.float32)


def accuracy(logits: np.ndarray, labels: Sequence[int]) -> float:
    return float(((logits > 0).astype(int) == np.asarray(labels)).mean()) if len(logits) else 0.0


def log_loss(logits: np.ndarray, labels: Sequence[int]) -> float:
    """Mean binary cross-entropy of ``logits`` (host arrays)."""
    if not len(logits):
        return 0.0
    return float(F.binary_cross_entropy_with_logits(torch.from_numpy(np.asarray(logits, dtype=np.float32)),
                                                    torch.tensor(np.asarray(labels), dtype=torch.float32)))


def _steps(bags, labels, order: np.ndarray, batch_size: int, pin: bool):
    """CPU side of each step: (flat ids, offsets, the distinct ids touched, targets, reviews)."""
    labels = np.asarray(labels, dtype=np.float32)
    for index in np.array_split(order, max(1, len(bags) // batch_size)):
        flat, offsets = flat_arrays([bags[i] for i in index])
        touched = np.unique(flat)  # sorted distinct ids, as torch.unique gives (here: no device sync)
        yield tuple(pinned(torch.from_numpy(a), pin) for a in (flat, offsets, touched, labels[index])) + (len(index),)


def _epoch(model, optimizer, bags, labels, settings, generator, bar, stop, deadline, device) -> str:
    """One pass over the training reviews: "done", "stopped" (``stop`` set) or "time" (the
    deadline passed mid-epoch). No host synchronisation per step: the loss is read every
    ``RunningLoss.every`` steps."""
    pin = device.type == "cuda"
    running = RunningLoss()
    for flat, offsets, touched, targets, size in _steps(bags, labels, generator.permutation(len(bags)),
                                                        settings.batch_size, pin):
        if stop:
            return "stopped"
        flat, offsets, touched, targets = (t.to(device, non_blocking=True) for t in (flat, offsets, touched, targets))
        loss = F.binary_cross_entropy_with_logits(model(flat, offsets), targets)
        # L2 only on the rows this batch touched, scaled to the whole set: cheap and unbiased
        loss = loss + settings.weight_decay * model.weight.weight[touched].pow(2).sum() * size / len(bags)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        running.add(loss)
        bar.update(advance=size)
        if running.due():
            bar.update(loss=running.read())
        if deadline is not None and time.perf_counter() >= deadline:
            return "time"
    return "done"


def train_linear(bags: Sequence[np.ndarray], labels: Sequence[int], valid_bags: Sequence[np.ndarray],
                 valid_labels: Sequence[int], buckets: int, settings: LinearSettings = LinearSettings(),
                 log=lambda line: None, stop=None, device: torch.device | str = "cpu",
                 deadline: float | None = None) -> tuple[NgramLinear | None, dict]:
    """Fit the branch on the training reviews once per learning rate (``settings.epochs``
    epochs each); the epoch and rate with the best validation loss are kept. ``deadline`` (a
    ``time.perf_counter()`` value) bounds the whole search: each rate gets an equal share of
    the time left when it starts and stops mid-epoch when its share is spent (that partial
    epoch is validated too). Returns (None, {}) as soon as ``stop`` (a StopRequest) is set.

    The info dict: the chosen rate's ``valid_loss``, ``valid_accuracy``, ``best_epoch``,
    ``learning_rate``, its per-epoch ``history``, ``valid_logits`` (host array) and
    ``epochs_run`` per rate."""
    from textlab.runtime.progress import ProgressBar

    device = torch.device(device)
    ratio = torch.from_numpy(nb_ratio(bags, labels, buckets)).float().to(device)
    model = NgramLinear(buckets, draw_init=False).to(device)
    best = {"valid_loss": float("inf")}
    runs: dict[float, list[dict]] = {}
    rates = settings.learning_rates
    with ProgressBar(total=len(rates) * settings.epochs * len(bags), description="n-gram branch", unit="reviews") as bar:
        for number, rate in enumerate(rates):
            rate_deadline = None
            if deadline is not None:
                now = time.perf_counter()
                rate_deadline = now + max(0.0, deadline - now) / (len(rates) - number)
            generator = np.random.default_rng(settings.seed)
            with torch.no_grad():
                model.weight.weight.zero_()
                model.bias.zero_()
            model.ratio = ratio
            optimizer = torch.optim.Adam(model.parameters(), lr=rate, fused=(device.type == "cuda") or None)
            history = runs[rate] = []
            for epoch in range(settings.epochs):
                outcome = _epoch(model, optimizer, bags, labels, settings, generator, bar, stop, rate_deadline, device)
                if outcome == "stopped":
                    return None, {}
                valid = linear_logits(model, valid_bags)
                valid_loss, valid_accuracy = log_loss(valid, valid_labels), accuracy(valid, valid_labels)
                partial = outcome == "time"
                history.append({"epoch": epoch + 1, "valid_accuracy": round(valid_accuracy, 4),
                                "valid_loss": round(valid_loss, 4), "partial": partial})
                log(f"n-gram branch, rate {rate:g}, epoch {epoch + 1}: validation accuracy {valid_accuracy:.4f}, "
                    f"loss {valid_loss:.4f}" + (" (its share of the time limit ended mid-epoch)" if partial else ""))
                if valid_loss < best["valid_loss"]:
                    best = {"valid_loss": valid_loss, "valid_accuracy": valid_accuracy, "best_epoch": epoch + 1,
                            "state": {k: v.clone() for k, v in model.state_dict().items()}, "learning_rate": rate,
                            "valid_logits": valid}
                if partial:
                    break
    model.load_state_dict(best["state"])
    model.fold_ratio()
    return model, {"valid_loss": round(best["valid_loss"], 4), "valid_accuracy": round(best["valid_accuracy"], 4),
                   "best_epoch": best["best_epoch"], "learning_rate": best["learning_rate"],
                   "history": runs[best["learning_rate"]], "valid_logits": best["valid_logits"],
                   "epochs_run": {f"{rate:g}": len(history) for rate, history in runs.items()}}


def fit_mix(neural: np.ndarray, ngram: np.ndarray, labels: Sequence[int], words: np.ndarray | None = None) -> torch.Tensor:
    """The six numbers m0..m5 minimising the log loss of
    ``(m0 + m3 s) * neural + (m1 + m4 s) * ngram + m2 + m5 s`` on held-out texts, ``s`` =
    :func:`~textlab.sentiment.config.short_weight` of their word counts ``words`` (None: one mix
    for every length, m3 = m4 = m5 = 0). Six numbers fitted on thousands of texts: little room to
    overfit the validation part."""
    parts = np.clip(np.stack([neural, ngram], axis=1), -50, 50)
    features = [parts, np.ones((len(parts), 1))]
    if words is not None:
        s = short_weight(words)[:, None]
        features += [parts * s, s]
    features = torch.from_numpy(np.concatenate(features, axis=1).astype(np.float32))
    targets = torch.tensor(np.asarray(labels), dtype=torch.float32)
    weights = torch.zeros(features.shape[1])
    weights[:2] = 1.0
    weights.requires_grad_(True)
    penalised = torch.ones(features.shape[1])
    penalised[2] = 0.0  # the bias of whole reviews
    optimizer = torch.optim.LBFGS([weights], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(features @ weights, targets) + 1e-4 * (penalised * weights.pow(2)).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    mix = weights.detach()
    return mix if words is not None else torch.cat([mix, torch.zeros(3)])
