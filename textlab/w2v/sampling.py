"""Sampling as word2vec/gensim do it: frequent-word subsampling, unigram^0.75 noise words and
dynamic windows, all vectorised over a chunk of the corpus."""

from __future__ import annotations

from typing import Iterator

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
    keep = (np.sqrt(safe / threshold) + 1.0) * threshold / safe
    return np.minimum(keep, 1.0).astype(np.float32)


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


def subsample(ids: np.ndarray, sentences: np.ndarray, keep: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Drop frequent words at random; returns the kept ids and their sentence numbers."""
    kept = rng.random(ids.size, dtype=np.float32) < keep[ids]
    return ids[kept], sentences[kept]


def window_groups(
    ids: np.ndarray, sentences: np.ndarray, window: int, rng: np.random.Generator
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Dynamic windows: each centre word gets a window ``b`` drawn uniformly from 1..window
    (gensim's ``window - reduced_window``). Centres are grouped by ``b`` so that no padding is
    needed; yields ``(b, centres[n], contexts[n, 2b])`` with -1 where a context position falls
    outside the sentence or the chunk."""
    n = ids.size
    if n == 0:
        return
    spans = rng.integers(1, window + 1, size=n)
    order = np.argsort(spans, kind="stable")
    bounds = np.searchsorted(spans[order], np.arange(1, window + 2))
    for b in range(1, window + 1):
        positions = order[bounds[b - 1] : bounds[b]]
        if positions.size == 0:
            continue
        offsets = np.concatenate([np.arange(-b, 0), np.arange(1, b + 1)])
        where = positions[:, None] + offsets[None, :]
        inside = (where >= 0) & (where < n)
        where = np.where(inside, where, 0)
        valid = inside & (sentences[where] == sentences[positions][:, None])
        contexts = np.where(valid, ids[where], -1).astype(np.int64)
        yield b, ids[positions].astype(np.int64), contexts
