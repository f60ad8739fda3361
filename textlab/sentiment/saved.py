"""Saving and loading sentiment models: store kind ``sentiment``, the dataclass config in the
card (field names of either spelling, see ``model.OLD_FIELD_NAMES``), the calibration in the
card's ``extra.calibration`` (none: T = 1), ``vocab.tsv`` and ``weights.safetensors`` (float
tensors stored as float16 to keep the shipped models small; they are computed in float32)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from textlab.errors import DataError
from textlab.sentiment.calibrate import Calibration
from textlab.sentiment.data import Encoder
from textlab.sentiment.linear import INT8_BLOCK, dequantize_int8, int8_scales_shape, quantize_int8
from textlab.sentiment.model import SentimentConfig, SentimentModel
from textlab.store.cards import VOCAB_FILE, ModelCard, read_card
from textlab.store.files import load_tensors, save_model
from textlab.text import PAD, UNK, Vocab

KIND = "sentiment"
LINEAR_TABLE = "linear.weight.weight"
LINEAR_SCALES = "linear.weight.scales"
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


def model_name(path: Path) -> str:
    """How messages name a model: ``shipped:en`` for a shipped one, else its directory name."""
    from textlab.store.shipped import SHIPPED_PREFIX, shipped_root

    try:
        Path(path).resolve().relative_to(shipped_root().resolve())
        return SHIPPED_PREFIX + Path(path).name
    except ValueError:
        return Path(path).name


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
    card = ModelCard(kind=KIND, config=model.config.to_dict(), data=data, metrics=metrics, command=command,
                     extra={**storage, **(extra or {})})
    return save_model(path, card, tensors, vocab_tsv=vocab.to_tsv(), extra_files=extra_files, force=force)


def make_encoder(config: SentimentConfig, vocab: Vocab) -> Encoder:
    return Encoder(vocab=vocab, max_len=config.max_len, head_len=config.head_len,
                   bag_buckets=config.bag_buckets, bag_max_len=config.bag_max_len,
                   ngram_branch_buckets=config.ngram_branch_buckets, ngram_branch_max_n=config.ngram_branch_max_n,
                   ngram_branch_units=config.ngram_branch_units, char_separator="" if config.lang == "zh" else " ")


def load_sentiment(path: Path, device: torch.device | str = "cpu") -> LoadedModel:
    """Read the card, validate the config, build the model, check tensor shapes, load weights."""
    start = time.perf_counter()
    path = Path(path)
    card = read_card(path)
    if card.kind != KIND:
        raise DataError(f"{path} is a {card.kind} model, not a sentiment model")
    config = SentimentConfig.from_dict(card.config, str(path))
    vocab = Vocab.load(path / VOCAB_FILE)
    if len(vocab) != config.vocab_size or vocab.words[:2] != [PAD, UNK]:
        raise DataError(f"{path}: vocab.tsv has {len(vocab)} entries, the config says {config.vocab_size} "
                        "(starting with <pad>, <unk>)")
    model = SentimentModel(config)
    expected = model.expected_shapes()
    int8_table = model.linear is not None and "ngram_table" in card.extra
    if int8_table:
        expected[LINEAR_SCALES] = int8_scales_shape(config.ngram_branch_buckets)
    tensors = load_tensors(path, expected)
    if int8_table:
        tensors[LINEAR_TABLE] = dequantize_int8(tensors[LINEAR_TABLE], tensors.pop(LINEAR_SCALES))
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in tensors.items()}
    model.load_state_dict(state)
    model.to(device).eval()
    raw = card.extra.get("calibration")
    calibration = Calibration() if raw is None else Calibration.from_dict(raw, f"{path} calibration")
    return LoadedModel(path, card, config, model, make_encoder(config, vocab), time.perf_counter() - start,
                       calibration)
