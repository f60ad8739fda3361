"""Sampling one id at a time from a language model: the options' checks, the draw (temperature,
optional top-k) of torch logits or of a numpy row (:func:`draw_array`, the numpy sampler's),
and the kernel settings for single steps on a CPU. Importing it imports no torch."""

from __future__ import annotations

import contextlib
import warnings
from typing import TYPE_CHECKING, Iterator

import numpy as np

from textlab.errors import UsageError
from textlab.runtime.device import torch_threads

if TYPE_CHECKING:
    import torch


def check_sampling(temperature: float, top_k: int | None) -> None:
    if temperature <= 0:
        raise UsageError(f"--temperature must be positive, got {temperature}")
    if top_k is not None and top_k < 1:
        raise UsageError(f"--top-k must be at least 1, got {top_k}")


def draw(logits: torch.Tensor, temperature: float, top_k: int | None,
         generator: torch.Generator | None = None) -> torch.Tensor:
    """One id per row of ``logits`` (batch, vocab): softmax(logits / temperature) over the
    ``top_k`` most likely (all when None); -inf logits are never drawn."""
    import torch

    logits = logits / temperature
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits.float(), dim=-1)
    return torch.multinomial(probs, 1, generator=generator)


@contextlib.contextmanager
def step_by_step_kernels() -> Iterator[None]:
    """Settings for one id per forward pass on a CPU: oneDNN's LSTM (PyTorch's CPU default,
    fast for long sequences) rebuilds its kernel on every call, which makes a single step ~5x
    slower than the plain kernel; one thread avoids the cost of syncing two threads for such
    small products."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a note about Intel GPUs when flags change
        with torch.backends.mkldnn.flags(enabled=False), torch_threads(1):
            yield


def draw_array(logits: np.ndarray, temperature: float, top_k: int | None, rng: np.random.Generator) -> int:
    """One id from one row of logits (numpy), as :func:`draw` does: softmax(logits / temperature)
    over the ``top_k`` most likely (all when None); -inf logits are never drawn."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    if top_k is not None and top_k < len(scaled):
        scaled = np.where(scaled < np.partition(scaled, -top_k)[-top_k], -np.inf, scaled)
    cumulative = np.cumsum(np.exp(scaled - scaled.max()))
    return min(int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right")), len(scaled) - 1)
