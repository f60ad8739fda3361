"""Sampling tables as word2vec/gensim define them: the keep probability of each word (frequent-
word subsampling) and Walker's alias tables for unigram^0.75 noise words, as numpy arrays. The
engines draw from them per chunk: :mod:`textlab.w2v.kernels` on the CPU reads the arrays,
:mod:`textlab.w2v.engine` on any device reads them as tensors (:class:`NoiseSampler`, the one
part that imports torch)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
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


def alias_tables(counts: np.ndarray, power: float = 0.75) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias tables for drawing word ``i`` with probability proportional to
    ``counts[i] ** power``, exactly: draw a slot uniformly, keep it with probability
    ``accept[slot]`` (float32), else take ``alias[slot]`` (int64). Two small tables of V entries
    stay in cache, unlike word2vec C's 10^8-slot table."""
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
    return accept.astype(np.float32), alias


class NoiseSampler:
    """The alias tables (:func:`alias_tables`) as tensors on ``device``: the device engine's
    noise words."""

    def __init__(self, counts: np.ndarray, power: float = 0.75, device: torch.device | str = "cpu"):
        import torch

        accept, alias = alias_tables(counts, power)
        self.accept = torch.from_numpy(accept).to(device)
        self.alias = torch.from_numpy(alias).to(device)
        self.vocab_size = len(alias)

    def sample(self, shape: tuple[int, ...], generator: torch.Generator | None = None) -> torch.Tensor:
        import torch

        slots = torch.randint(0, self.vocab_size, shape, generator=generator).to(self.alias.device)
        coins = torch.rand(shape, generator=generator).to(self.alias.device)
        return torch.where(coins < self.accept[slots], slots, self.alias[slots])
