"""Reading word2vec models from the store without torch: the card, the vocabulary and the
query vectors (``weights.safetensors`` read through safetensors' numpy loader). Queries
(``neighbors``, ``analogy``, ``eval-w2v``, ``export-w2v``, ...) are numpy work and start in a
fraction of a second; the full model (both matrices: :mod:`textlab.w2v.saving`) is numpy too."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from textlab.errors import DataError
from textlab.store.cards import VOCAB_FILE, ModelCard, config_from_dict, read_card
from textlab.store.choice import resolve_model
from textlab.store.files import load_arrays, tensor_shapes
from textlab.text.vocab import Vocab
from textlab.w2v.config import CONFIG_LIMITS, Word2VecConfig

KIND = "word2vec"


def read_config(path: Path) -> tuple[ModelCard, Word2VecConfig]:
    card = read_card(path)
    if card.kind != KIND:
        raise DataError(f"{path} is a {card.kind} model, not a word2vec model")
    config = config_from_card(card, str(path))
    return card, config


def config_from_card(card: ModelCard, where: str) -> Word2VecConfig:
    return config_from_dict(Word2VecConfig, card.config, where, limits=CONFIG_LIMITS)


def checked_vocab(path: Path, config: Word2VecConfig) -> Vocab:
    vocab = Vocab.load(path / VOCAB_FILE) if (path / VOCAB_FILE).is_file() else None
    if vocab is None:
        raise DataError(f"{path}: missing {VOCAB_FILE}")
    if len(vocab) != config.vocab_size:
        raise DataError(f"{path}: {VOCAB_FILE} lists {len(vocab)} words, the config says {config.vocab_size}")
    return vocab


def load_vectors(spec: str | Path | None) -> tuple[list[str], np.ndarray]:
    """Words and query vectors only (what :class:`KeyedVectors` needs)."""
    path = resolve_model(spec or None, KIND)
    _, config = read_config(path)
    vocab = checked_vocab(path, config)
    shapes = tensor_shapes(path)
    expected = (config.vocab_size, config.dim)
    if tuple(shapes.get("vectors", ())) != expected:
        raise DataError(f"{path}: 'vectors' has shape {shapes.get('vectors')}, the config says {expected}")
    arrays = load_arrays(path, shapes, names=("vectors",))
    return vocab.words, arrays["vectors"].astype(np.float32, copy=False)
