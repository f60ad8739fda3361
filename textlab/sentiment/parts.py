"""What a saved sentiment model holds, read and checked without torch: the card, the config,
the vocabulary, the calibration and the names and shapes its weights must have. Both ways of
scoring read a model through here: the torch model (:func:`textlab.sentiment.saved.load_sentiment`)
and the numpy scorer for a few lines (:mod:`textlab.sentiment.light`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textlab.errors import DataError
from textlab.sentiment.calibrate import Calibration
from textlab.sentiment.config import SentimentConfig
from textlab.sentiment.data import Encoder
from textlab.sentiment.hashing import int8_scales_shape
from textlab.store.cards import VOCAB_FILE, ModelCard, read_card
from textlab.text import PAD, UNK, Vocab

KIND = "sentiment"
LINEAR_TABLE = "linear.weight.weight"
LINEAR_SCALES = "linear.weight.scales"
#: The card's ``extra`` entry with the mix's short-text terms, and the largest size accepted
#: (a card is data: checked before use).
SHORT_MIX = "short_mix"
SHORT_MIX_LIMIT = 1000.0
#: Gate blocks per recurrent cell, in PyTorch's order (LSTM: i, f, g, o; GRU: r, z, n).
GATES = {"lstm": 4, "gru": 3, "rnn": 1}


@dataclass
class SavedParts:
    path: Path
    card: ModelCard
    config: SentimentConfig
    vocab: Vocab
    calibration: Calibration
    short_mix: tuple[float, float, float] = (0.0, 0.0, 0.0)  # m3..m5 (see textlab.sentiment.model)

    @property
    def int8_table(self) -> bool:
        """Whether the n-gram table is stored as int8 with block scales."""
        return self.config.ngram_branch_buckets > 0 and "ngram_table" in self.card.extra

    def stored_shapes(self) -> dict[str, tuple[int, ...]]:
        """The names and shapes the weights file must hold."""
        shapes = tensor_layout(self.config)
        if self.int8_table:
            shapes[LINEAR_SCALES] = int8_scales_shape(self.config.ngram_branch_buckets)
        return shapes


def read_parts(path: Path) -> SavedParts:
    """Read the card, validate the config, the vocabulary and the calibration."""
    path = Path(path)
    card = read_card(path)
    if card.kind != KIND:
        raise DataError(f"{path} is a {card.kind} model, not a sentiment model")
    config = SentimentConfig.from_dict(card.config, str(path))
    vocab = Vocab.load(path / VOCAB_FILE)
    if len(vocab) != config.vocab_size or vocab.words[:2] != [PAD, UNK]:
        raise DataError(f"{path}: vocab.tsv has {len(vocab)} entries, the config says {config.vocab_size} "
                        "(starting with <pad>, <unk>)")
    raw = card.extra.get("calibration")
    calibration = Calibration() if raw is None else Calibration.from_dict(raw, f"{path} calibration")
    return SavedParts(path, card, config, vocab, calibration, read_short_mix(card.extra.get(SHORT_MIX), str(path)))


def read_short_mix(raw, where: str) -> tuple[float, float, float]:
    """The card's short-text terms of the mix: absent (a card written before them) means zeros."""
    if raw is None:
        return (0.0, 0.0, 0.0)
    if not isinstance(raw, list) or len(raw) != 3 or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) <= SHORT_MIX_LIMIT for v in raw):
        raise DataError(f"{where}: {SHORT_MIX} must be three numbers within +-{SHORT_MIX_LIMIT:g}")
    return tuple(float(v) for v in raw)


def pooled_width(config: SentimentConfig) -> int:
    """Features the pooling gives the head (before the bag): each pooled statistic (max, mean, and
    for ``last+max+mean`` the last output) of every direction."""
    return len(config.pooling.split("+")) * config.hidden * (2 if config.bidirectional else 1)


def tensor_layout(config: SentimentConfig) -> dict[str, tuple[int, ...]]:
    """The state dict's names and shapes for ``config`` (what ``SentimentModel(config)`` holds;
    a test keeps the two equal)."""
    gates = GATES[config.cell] * config.hidden
    directions = ("", "_reverse") if config.bidirectional else ("",)
    shapes: dict[str, tuple[int, ...]] = {"embedding.weight": (config.vocab_size, config.embed_dim)}
    for layer in range(config.layers):
        width = config.embed_dim if layer == 0 else config.hidden * len(directions)
        for suffix in directions:
            shapes[f"rnn.weight_ih_l{layer}{suffix}"] = (gates, width)
            shapes[f"rnn.weight_hh_l{layer}{suffix}"] = (gates, config.hidden)
            shapes[f"rnn.bias_ih_l{layer}{suffix}"] = (gates,)
            shapes[f"rnn.bias_hh_l{layer}{suffix}"] = (gates,)
    features = pooled_width(config)
    if config.bag_buckets > 0:
        shapes["bag.weight"] = (config.vocab_size + config.bag_buckets, config.bag_dim)
        features += config.bag_dim
    shapes["head.weight"] = (1, features)
    shapes["head.bias"] = (1,)
    if config.ngram_branch_buckets > 0:
        shapes[LINEAR_TABLE] = (config.ngram_branch_buckets, 1)
        shapes["linear.bias"] = (1,)
        shapes["mix"] = (3,)
    return shapes


def make_encoder(config: SentimentConfig, vocab: Vocab) -> Encoder:
    return Encoder(vocab=vocab, max_len=config.max_len, head_len=config.head_len,
                   bag_buckets=config.bag_buckets, bag_max_len=config.bag_max_len,
                   ngram_branch_buckets=config.ngram_branch_buckets, ngram_branch_max_n=config.ngram_branch_max_n,
                   ngram_branch_units=config.ngram_branch_units, char_separator="" if config.lang == "zh" else " ")


def model_name(path: Path) -> str:
    """How messages name a model: ``shipped:en`` for a shipped one, else its directory name."""
    from textlab.store.shipped import SHIPPED_PREFIX, shipped_root

    try:
        Path(path).resolve().relative_to(shipped_root().resolve())
        return SHIPPED_PREFIX + Path(path).name
    except ValueError:
        return Path(path).name
