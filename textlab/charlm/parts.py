"""A saved char LM's card read and checked without torch: the config and the alphabet (the
torch loader :func:`textlab.charlm.saving.load_charlm` and the numpy sampler
:mod:`textlab.charlm.light` both read a model through here)."""

from __future__ import annotations

from pathlib import Path

from textlab.charlm.config import CharLMConfig
from textlab.charlm.data import CharCodec
from textlab.errors import DataError
from textlab.store.cards import ModelCard, read_card

KIND = "charlm"


def read_charlm(path: Path) -> tuple[ModelCard, CharLMConfig, CharCodec]:
    card = read_card(path)
    if card.kind != KIND:
        raise DataError(f"{path} is a {card.kind} model, not a {KIND} model")
    config = CharLMConfig.from_dict(card.config, where=f"{path}/config.json")
    alphabet = card.extra.get("alphabet") if isinstance(card.extra, dict) else None
    if not isinstance(alphabet, list) or len(alphabet) != config.vocab_size:
        raise DataError(f"{path}/config.json: the alphabet is missing or does not match vocab_size")
    return card, config, CharCodec(alphabet)


def tensor_layout(config: CharLMConfig) -> dict[str, tuple[int, ...]]:
    """The stored weights' names and shapes (a tied head is stored once, as the embedding; a test
    keeps this equal to ``CharLM(config).tensor_shapes()``)."""
    from textlab.lm.numpy_rnn import GATES

    gates = GATES[config.cell] * config.hidden
    shapes: dict[str, tuple[int, ...]] = {"embed.weight": (config.vocab_size, config.embed_dim)}
    for layer in range(config.layers):
        width = config.embed_dim if layer == 0 else config.hidden
        shapes.update({f"rnn.weight_ih_l{layer}": (gates, width), f"rnn.weight_hh_l{layer}": (gates, config.hidden),
                       f"rnn.bias_ih_l{layer}": (gates,), f"rnn.bias_hh_l{layer}": (gates,)})
    if not config.tie_weights:
        shapes["head.weight"] = (config.vocab_size, config.hidden)
    shapes["head.bias"] = (config.vocab_size,)
    return shapes
