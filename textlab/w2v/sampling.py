"""Sampling tables as word2vec/gensim define them: the keep probability of each word (frequent-
word subsampling) and Walker's alias tables for unigram^0.75 noise words. The engines draw
from them per chunk (:mod:`textlab.w2v.kernels` on the CPU, :mod:`textlab.w2v.engine` on any
device)."""

from __future__ import annotations

import numpy as np
import torch


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """Probability of keeping each word: ``(sqrt(c / t) + 1) * t / c`` with
    ``t = sample * total`` (word2vec C and gensim), capped at 1; all ones when ``sample`` is 0."""
    counts = np.asarray(counts, dtype=np.float64)
    if sample <= 0:
        return np.ones_like(counts, dtype=np.float32)
    threshold = sample * counts.sum()
    safe = np.maximum(counts, 1.0)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # a denormal --sample overflows to inf: keep all
        keep = (np.sqrt(safe / threshold) + 1.0) * threshold / safe
    return np.minimum(np.nan_to_num(keep, nan=1.0, posinf=1.0), 1.0).astype(np.float32)


class NoiseSampler:
    """Draws negative words with probability proportional to ``count ** 0.75``, exactly, with
    Walker's alias method: two small tables of V entries stay in cache, unlike word2vec C's
    10^8-slot table."""

    def __init__(self, counts: np.ndarray, power: float = 0.75, device: torch.device | str = "cpu"):
        weights = np.asarray(counts, dtype=np.float64) ** power
        size = len(weights)
        scaled = weights * size / weights.sum()
        accept = np.ones(size, dtype=np.float64)
        alias = np.arange(size, dtype=np.int64)
        small = [i for i in range(size) if scaled[i] < 1.0]
        large = [i for i in range(size) if scaled[i] >= 1.0]
        while small and large:  # Vose's construction
            low, high = small.pop(), large.pop()
            accept[low], alias[low] = scaled[low], high
            scaled[high] -= 1.0 - scaled[low]
            (small if scaled[high] < 1.0 else large).append(high)
        self.accept = torch.from_numpy(accept.astype(np.float32)).to(device)
        self.alias = torch.from_numpy(alias).to(device)
        self.vocab_size = size

    def sample(self, shape: tuple[int, ...], generator: torch.Generator | None = None) -> torch.Tensor:
        slots = torch.randint(0, self.vocab_size, shape, generator=generator).to(self.alias.device)
        coins = torch.rand(shape, generator=generator).to(self.alias.device)
        return torch.where(coins < self.accept[slots], slots, self.alias[slots])
