"""Saving and loading sentiment models: store kind ``sentiment``, the dataclass config in the
card (field names of either spelling, see ``model.OLD_FIELD_NAMES``), the calibration in the
card's ``extra.calibration`` (none: T = 1), ``vocab.tsv`` and ``weights.safetensors`` (float
tensors stored as float16 to keep the shipped models small; they are computed in float32)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from textlab.sentiment.calibrate import Calibration
from textlab.sentiment.data import Encoder
from textlab.sentiment.linear import INT8_BLOCK, dequantize_int8, quantize_int8
from textlab.sentiment.parts import KIND, LINEAR_SCALES, LINEAR_TABLE, SHORT_MIX, make_encoder, model_name, read_parts  # noqa: F401
from textlab.sentiment.model import SentimentConfig, SentimentModel
from textlab.store.cards import ModelCard
from textlab.store.files import load_tensors, save_model
from textlab.text import Vocab

STORAGE_DTYPE = torch.float16


@dataclass
class LoadedModel:
    path: Path
    card: ModelCard
    config: SentimentConfig
    model: SentimentModel
    encoder: Encoder
    load_seconds: float
    calibration: Calibration = Calibration()

    @property
    def name(self) -> str:
        return model_name(self.path)


def save_sentiment(path: Path, model: SentimentModel, vocab: Vocab, data: dict, metrics: dict,
                   command: str = "", extra: dict | None = None, force: bool = False,
                   extra_files: dict[str, bytes] | None = None, calibration: Calibration | None = None) -> Path:
    tensors = {k: (v.to(STORAGE_DTYPE) if v.is_floating_point() else v).cpu() for k, v in model.state_dict().items()}
    storage: dict = {"weights_dtype": "float16"}
    if calibration is not None:
        storage["calibration"] = calibration.to_dict()
    if model.linear is not None:  # the n-gram table is most of the bytes: int8 with block scales
        tensors[LINEAR_TABLE], tensors[LINEAR_SCALES] = (t.cpu() for t in quantize_int8(model.linear.weight.weight))
        storage["ngram_table"] = f"int8, one float32 scale per {INT8_BLOCK} weights"
        storage[SHORT_MIX] = [round(float(v), 6) for v in model.short_mix]
    card = ModelCard(kind=KIND, config=model.config.to_dict(), data=data, metrics=metrics, command=command,
                     extra={**storage, **(extra or {})})
    return save_model(path, card, tensors, vocab_tsv=vocab.to_tsv(), extra_files=extra_files, force=force)


def load_sentiment(path: Path, device: torch.device | str = "cpu") -> LoadedModel:
    """Read the card, validate the config, build the model, check tensor shapes, load weights."""
    start = time.perf_counter()
    parts = read_parts(path)
    model = SentimentModel(parts.config)
    tensors = load_tensors(parts.path, parts.stored_shapes())
    if parts.int8_table:
        tensors[LINEAR_TABLE] = dequantize_int8(tensors[LINEAR_TABLE], tensors.pop(LINEAR_SCALES))
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in tensors.items()}
    model.load_state_dict(state)
    if model.linear is not None:
        model.short_mix.copy_(torch.tensor(parts.short_mix))
    model.to(device).eval()
    return LoadedModel(parts.path, parts.card, parts.config, model, make_encoder(parts.config, parts.vocab),
                       time.perf_counter() - start, parts.calibration)
