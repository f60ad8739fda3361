"""Held-out measurement: mean loss in nats per character, perplexity and bits per character.

Every character after the first is predicted once, with the hidden state carried along the
text (the text is cut into a few long streams to use a batch; each stream starts cold): the
shared measurement of :mod:`textlab.lm.measure`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from textlab.charlm.model import CharLM
from textlab.lm import measure as lm_measure
from textlab.lm.measure import loss_sums, stream_count  # noqa: F401  (shared: the old import path)


def metrics_from_loss(loss: float, chars: int) -> dict:
    return {"loss": loss, "perplexity": math.exp(min(loss, 700.0)), "bpc": loss / math.log(2), "chars": int(chars)}


def evaluate_ids(model: CharLM, ids: np.ndarray, device: torch.device | str = "cpu",
                 seq_len: int = 512, n_streams: int | None = None) -> dict:
    """Loss over the whole id sequence; returns ``{loss, perplexity, bpc, chars}``."""
    return lm_measure.evaluate_ids(model, ids, metrics_from_loss, device, seq_len, n_streams)


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
