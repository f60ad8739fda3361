"""Save and load a char LM as a store model: card (config + alphabet) and safetensors weights."""

from __future__ import annotations

from pathlib import Path

import torch

from textlab.charlm.data import CharCodec
from textlab.charlm.parts import KIND, read_charlm
from textlab.charlm.model import CharLM
from textlab.lm.record import CARD_CURVE_POINTS, thin, training_record  # noqa: F401  (old import paths)
from textlab.plots import CURVE_FILE
from textlab.store.cards import ModelCard
from textlab.store.files import load_tensors, save_model



def save_charlm(path: Path, model: CharLM, alphabet: list[str], data: dict, metrics: dict,
                settings: dict, force: bool = False) -> Path:
    # curve.png gets every point; the card a readable sample of them
    card_settings, curve = training_record(settings, f"char LM: {Path(str(data.get('corpus', ''))).name}")
    card = ModelCard(kind=KIND, config=model.config.to_dict(), data=data, metrics=metrics,
                     extra={"alphabet": list(alphabet), "training": card_settings})
    return save_model(path, card, model.weights(), extra_files={CURVE_FILE: curve} if curve else None, force=force)


def load_charlm(path: Path, device: torch.device | str = "cpu") -> tuple[CharLM, CharCodec, ModelCard]:
    """Rebuild the model from its card, check the weights' shapes, then load them."""
    card, config, codec = read_charlm(path)
    model = CharLM(config)  # (not on the meta device: its context manager imports torch's compiler, ~1 s)
    model.load_weights(load_tensors(path, model.tensor_shapes()))
    model.to(device).eval()
    return model, codec, card
