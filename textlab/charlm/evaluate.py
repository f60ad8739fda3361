"""Held-out measurement: mean loss in nats per character, perplexity and bits per character.

Every character after the first is predicted once, with the hidden state carried along the
text (the text is cut into a few long streams to use a batch; each stream starts cold).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from textlab.charlm.data import eval_streams
from textlab.charlm.model import CharLM, detach_state

STREAM_CHARS = 4096  # at least this many characters per stream before another stream is used
MAX_STREAMS = 64


def metrics_from_loss(loss: float, chars: int) -> dict:
    return {"loss": loss, "perplexity": math.exp(min(loss, 700.0)), "bpc": loss / math.log(2), "chars": int(chars)}


def stream_count(n_chars: int) -> int:
    """How many streams a text of ``n_chars`` is measured in."""
    return max(1, min(MAX_STREAMS, n_chars // STREAM_CHARS))


@torch.inference_mode()
def loss_sums(model: CharLM, inputs: torch.Tensor, targets: torch.Tensor, device: torch.device | str = "cpu",
              seq_len: int = 512) -> tuple[float, int]:
    """Summed loss and number of predicted characters over ``eval_streams`` rows, the hidden
    state carried along each row (the model is in eval mode meanwhile)."""
    was_training = model.training
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=device)  # summed on the device: read once at the end
    count = torch.zeros((), dtype=torch.int64, device=device)
    state = None
    inputs, targets = inputs.to(device), targets.to(device)  # one copy, then slices on the device
    try:
        for start in range(0, inputs.size(1), seq_len):
            x = inputs[:, start:start + seq_len]
            y = targets[:, start:start + seq_len]
            logits, _, state = model(x, state=state)
            state = detach_state(state)
            total += F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), y.reshape(-1),
                                     ignore_index=-100, reduction="sum")
            count += (y != -100).sum()
    finally:
        model.train(was_training)
    total, count = float(total), int(count)
    return total, count


def evaluate_ids(model: CharLM, ids: np.ndarray, device: torch.device | str = "cpu",
                 seq_len: int = 512, n_streams: int | None = None) -> dict:
    """Loss over the whole id sequence; returns ``{loss, perplexity, bpc, chars}``."""
    if len(ids) < 2:
        return metrics_from_loss(float("nan"), 0)
    inputs, targets = eval_streams(ids, n_streams or stream_count(len(ids)))
    total, count = loss_sums(model, inputs, targets, device, seq_len)
    return metrics_from_loss(total / max(count, 1), count)


def read_eval_text(path: Path | str) -> str:
    """The whole text of a file or corpus (any format textlab reads) to measure a model on."""
    from textlab.data import read_corpus_text, resolve_corpus

    return read_corpus_text(resolve_corpus(str(path)), max_chars=200_000_000)


def evaluate_text(model: CharLM, codec, text: str, device: torch.device | str = "cpu", where: str = "the text") -> dict:
    """Measure the model on all of ``text`` (every character must be in its alphabet)."""
    if len(text) < 2:
        from textlab.errors import DataError

        raise DataError(f"{where} holds {len(text)} character(s); measuring a language model needs at least 2")
    return evaluate_ids(model, codec.encode(text, where=where), device)


def evaluate_file(model: CharLM, codec, path: Path | str, device: torch.device | str = "cpu") -> dict:
    """Read a file or corpus (any format textlab reads) and measure the model on all of it."""
    return evaluate_text(model, codec, read_eval_text(path), device, where=str(path))
