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

import zlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant: mixes words into an n-gram key
_ORDER_SALT = [np.uint64(0), np.uint64(0x51ED270B), np.uint64(0xA0761D64), np.uint64(0xE7037ED1),
               np.uint64(0x8EBC6AF0)]


def word_hashes(tokens: Sequence[str]) -> np.ndarray:
    return np.fromiter((zlib.crc32(t.encode("utf-8", "surrogatepass")) for t in tokens),
                       dtype=np.uint64, count=len(tokens))


#: what the n-gram branch hashes: word n-grams, character n-grams, or both
UNITS = ("words", "chars", "words+chars")
_CHAR_SALT = np.uint64(0xC2B2AE3D27D4EB4F)  # keeps character n-grams apart from word n-grams


def char_codes(tokens: Sequence[str], separator: str) -> np.ndarray:
    """Unicode code points of the tokens joined by ``separator`` ("" for Chinese, " " otherwise)."""
    text = separator.join(tokens)
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)


def _ngram_keys(units: np.ndarray, max_n: int, salt: np.uint64, buckets: int) -> list[np.ndarray]:
    keys = []
    with np.errstate(over="ignore"):
        key = np.zeros(len(units), dtype=np.uint64)
        for n in range(1, max_n + 1):
            if len(units) < n:
                break
            # key of the n-gram starting at i = key of the (n-1)-gram at i, times M, plus unit i+n-1
            key = key[: len(units) - n + 1] * _MULTIPLIER + units[n - 1:]
            keys.append((key ^ _ORDER_SALT[min(n, len(_ORDER_SALT) - 1)] ^ salt) % np.uint64(buckets))
    return keys


def hashed_ngrams(tokens: Sequence[str], buckets: int, max_n: int, max_words: int, units: str = "words",
                  char_separator: str = " ") -> np.ndarray:
    """Sorted distinct bucket ids (int64) of the 1..max_n-grams of the first ``max_words`` tokens:
    word n-grams, character n-grams (of the tokens joined by ``char_separator``) or both."""
    if buckets <= 0 or not tokens:
        return np.zeros(0, dtype=np.int64)
    tokens = tokens[:max_words]
    keys = []
    if units in ("words", "words+chars"):
        keys += _ngram_keys(word_hashes(tokens), max_n, np.uint64(0), buckets)
    if units in ("chars", "words+chars"):
        keys += _ngram_keys(char_codes(tokens, char_separator), max_n, _CHAR_SALT, buckets)
    if not keys:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.concatenate(keys)).astype(np.int64)


INT8_BLOCK = 256  # weights per scale when the n-gram table is stored as int8


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
    return _unblock(_blocks(quantized) * scales.float()[:, None], quantized)


def int8_scales_shape(buckets: int) -> tuple[int]:
    return (-(-buckets // INT8_BLOCK),)


def flatten(bags: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """(flat ids, offsets) as EmbeddingBag takes them."""
    sizes = np.fromiter((len(b) for b in bags), dtype=np.int64, count=len(bags))
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    flat = np.concatenate(bags).astype(np.int64) if len(bags) else np.zeros(0, dtype=np.int64)
    return torch.from_numpy(flat), torch.from_numpy(offsets)


class NgramLinear(nn.Module):
    """``logit = sum(weight[f]) + bias`` over a review's hashed n-grams. While training, each
    weight is ``w[f] * ratio[f]`` (the NB ratio scales the feature; L2 acts on ``w``);
    :meth:`fold_ratio` bakes the product in for saving and inference."""

    def __init__(self, buckets: int):
        super().__init__()
        self.weight = nn.EmbeddingBag(buckets, 1, mode="sum")
        nn.init.zeros_(self.weight.weight)
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
    epochs: int = 8
    batch_size: int = 256
    # tried in turn; the run with the best validation loss is kept. Adam moves every weight a
    # review touches by about the rate, so on a small set a high rate overfits the rare n-grams
    # within an epoch, while on IMDb a low one needs many epochs: the data choose.
    learning_rates: tuple[float, ...] = (0.02, 0.005, 0.0015)
    weight_decay: float = 1e-4  # L2 on the weights (the ratios already carry the scale)
    seed: int = 1


@torch.no_grad()
def linear_logits(model: NgramLinear, bags: Sequence[np.ndarray], batch_size: int = 1024) -> np.ndarray:
    out = []
    for start in range(0, len(bags), batch_size):
        flat, offsets = flatten(bags[start: start + batch_size])
        out.append(model(flat, offsets).numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def accuracy(logits: np.ndarray, labels: Sequence[int]) -> float:
    return float(((logits > 0).astype(int) == np.asarray(labels)).mean()) if len(logits) else 0.0


def _epoch(model, optimizer, bags, targets, settings, generator, bar, stop) -> bool:
    """One pass over the training reviews; False if ``stop`` was set."""
    for index in np.array_split(generator.permutation(len(bags)), max(1, len(bags) // settings.batch_size)):
        if stop:
            return False
        flat, offsets = flatten([bags[i] for i in index])
        loss = F.binary_cross_entropy_with_logits(model(flat, offsets), targets[index])
        # L2 only on the rows this batch touched, scaled to the whole set: cheap and unbiased
        touched = model.weight.weight[torch.unique(flat)]
        loss = loss + settings.weight_decay * touched.pow(2).sum() * len(index) / len(bags)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        bar.update(advance=len(index), loss=loss.item())
    return True


def train_linear(bags: Sequence[np.ndarray], labels: Sequence[int], valid_bags: Sequence[np.ndarray],
                 valid_labels: Sequence[int], buckets: int, settings: LinearSettings = LinearSettings(),
                 log=lambda line: None, stop=None) -> tuple[NgramLinear | None, dict]:
    """Fit the branch on the training reviews once per learning rate; the epoch and rate with the
    best validation loss are kept. Returns (None, {}) as soon as ``stop`` (a StopRequest) is set."""
    from textlab.runtime import ProgressBar

    ratio = torch.from_numpy(nb_ratio(bags, labels, buckets)).float()
    targets = torch.tensor(np.asarray(labels), dtype=torch.float32)
    valid_targets = torch.tensor(np.asarray(valid_labels), dtype=torch.float32)
    model = NgramLinear(buckets)
    best = (float("inf"), 0.0, 0, None, 0.0)
    rates = settings.learning_rates
    with ProgressBar(total=len(rates) * settings.epochs * len(bags), description="n-gram branch", unit="reviews") as bar:
        for rate in rates:
            generator = np.random.default_rng(settings.seed)
            with torch.no_grad():
                model.weight.weight.zero_()
                model.bias.zero_()
            model.ratio = ratio
            optimizer = torch.optim.Adam(model.parameters(), lr=rate)
            for epoch in range(settings.epochs):
                if not _epoch(model, optimizer, bags, targets, settings, generator, bar, stop):
                    return None, {}
                valid = linear_logits(model, valid_bags)
                valid_loss = float(F.binary_cross_entropy_with_logits(torch.from_numpy(valid), valid_targets))
                valid_accuracy = accuracy(valid, valid_labels)
                log(f"n-gram branch, rate {rate:g}, epoch {epoch + 1}: validation accuracy {valid_accuracy:.4f}, "
                    f"loss {valid_loss:.4f}")
                if valid_loss < best[0]:
                    best = (valid_loss, valid_accuracy, epoch + 1,
                            {k: v.clone() for k, v in model.state_dict().items()}, rate)
    model.load_state_dict(best[3])
    model.fold_ratio()
    return model, {"valid_loss": round(best[0], 4), "valid_accuracy": round(best[1], 4), "best_epoch": best[2],
                   "learning_rate": best[4]}


def fit_mix(neural: np.ndarray, ngram: np.ndarray, labels: Sequence[int]) -> torch.Tensor:
    """(a, b, c) minimising the log loss of ``a * neural + b * ngram + c`` on held-out reviews
    (three numbers fitted on thousands of reviews: little room to overfit the validation part)."""
    features = torch.from_numpy(np.clip(np.stack([neural, ngram], axis=1), -50, 50).astype(np.float32))
    targets = torch.tensor(np.asarray(labels), dtype=torch.float32)
    weights = torch.tensor([1.0, 1.0, 0.0], requires_grad=True)
    optimizer = torch.optim.LBFGS([weights], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        logits = features @ weights[:2] + weights[2]
        loss = F.binary_cross_entropy_with_logits(logits, targets) + 1e-4 * weights[:2].pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return weights.detach()
