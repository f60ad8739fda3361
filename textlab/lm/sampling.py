"""Sampling one id at a time from a language model: the options' checks, the draw (temperature,
optional top-k) and the kernel settings for single steps on a CPU."""

from __future__ import annotations

import contextlib
import warnings
from typing import Iterator

import torch

from textlab.errors import UsageError
from textlab.runtime.device import torch_threads


def check_sampling(temperature: float, top_k: int | None) -> None:
    if temperature <= 0:
        raise UsageError(f"--temperature must be positive, got {temperature}")
    if top_k is not None and top_k < 1:
        raise UsageError(f"--top-k must be at least 1, got {top_k}")


def draw(logits: torch.Tensor, temperature: float, top_k: int | None,
         generator: torch.Generator | None = None) -> torch.Tensor:
    """One id per row of ``logits`` (batch, vocab): softmax(logits / temperature) over the
    ``top_k`` most likely (all when None); -inf logits are never drawn."""
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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a note about Intel GPUs when flags change
        with torch.backends.mkldnn.flags(enabled=False), torch_threads(1):
            yield
