"""Held-out measurement of a language model: every id after the first is predicted once, with
the hidden state carried along the text (the text is cut into a few long streams to use a
batch; each stream starts cold). Generic over the model: it offers
``summed_loss(idx, targets, state) -> (summed loss over targets != -100, their count, state)``
(the char LM from its logits, the word LM from its adaptive softmax)."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from textlab.lm.streams import detach_state, eval_streams

STREAM_UNITS = 4096  # at least this many ids per stream before another stream is used
MAX_STREAMS = 64


def stream_count(n_ids: int) -> int:
    """How many streams a text of ``n_ids`` is measured in."""
    return max(1, min(MAX_STREAMS, n_ids // STREAM_UNITS))


@torch.inference_mode()
def loss_sums(model, inputs: torch.Tensor, targets: torch.Tensor, device: torch.device | str = "cpu",
              seq_len: int = 512) -> tuple[float, int]:
    """Summed loss and number of predictions over ``eval_streams`` rows, the hidden state
    carried along each row (the model is in eval mode meanwhile)."""
    was_training = model.training
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=device)  # summed on the device: read once at the end
    count = torch.zeros((), dtype=torch.int64, device=device)
    state = None
    inputs, targets = inputs.to(device), targets.to(device)  # one copy, then slices on the device
    try:
        for start in range(0, inputs.size(1), seq_len):
            summed, counted, state = model.summed_loss(inputs[:, start:start + seq_len],
                                                       targets[:, start:start + seq_len], state)
            state = detach_state(state)
            total += summed
            count += counted
    finally:
        model.train(was_training)
    return float(total), int(count)


def evaluate_ids(model, ids: np.ndarray, metrics: Callable[[float, int], dict], device: torch.device | str = "cpu",
                 seq_len: int = 512, n_streams: int | None = None) -> dict:
    """``metrics(mean loss, predictions)`` over the whole id sequence (the kind says what it
    reports: bits per character, perplexity, ...)."""
    if len(ids) < 2:
        return metrics(float("nan"), 0)
    inputs, targets = eval_streams(ids, n_streams or stream_count(len(ids)))
    total, count = loss_sums(model, inputs, targets, device, seq_len)
    return metrics(total / max(count, 1), count)
