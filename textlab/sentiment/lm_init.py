"""``--from-lm``: start the classifier from a textlab word language model (store kind
``wordlm``), read directly through the store so that sentiment does not depend on
textlab.wordlm: the card's config (``lang``, ``embed_dim``, ``hidden``, ``layers``,
``vocab_size``), ``vocab.tsv`` (``<pad>``, ``<unk>``, ``<eos>``, then words by frequency) and
``weights.safetensors`` (``embed.weight`` [V, E]; ``rnn.*`` of an ``nn.LSTM(E, H, layers)``).

The classifier takes the LM's words in the LM's order after its own ``<pad>``, ``<unk>`` (the
LM's ``<eos>`` is dropped: classifier id ``i >= 2`` is LM id ``i + 1``), a unidirectional LSTM of
the LM's shape, and copies the embedding rows and every LSTM weight. Both models tokenize with
:func:`textlab.text.word_model_options` of their language, so the LM's language must be the
training texts'."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textlab.errors import DataError
from textlab.store.cards import VOCAB_FILE, read_card
from textlab.store.choice import resolve_model
from textlab.store.files import tensor_shapes
from textlab.text import EOS, PAD, UNK, Vocab

KIND = "wordlm"
LM_SPECIALS = 3  # <pad>, <unk>, <eos>
SHAPE_LIMITS = {"embed_dim": (1, 4096), "hidden": (1, 4096), "layers": (1, 8), "vocab_size": (LM_SPECIALS + 1, 2_000_001)}


@dataclass
class SavedLM:
    """A word LM as the classifier starts from it (headers read; weights not yet loaded)."""

    path: Path
    lang: str
    shape: dict  # the classifier fields it fixes: cell, bidirectional, embed_dim, hidden, layers, vocab_size
    vocab: Vocab  # the classifier's vocabulary: <pad>, <unk>, then the LM's words in its order


def rnn_shapes(embed_dim: int, hidden: int, layers: int) -> dict[str, tuple[int, ...]]:
    """The LM's LSTM weights by their names in its weights file."""
    shapes = {}
    for layer in range(layers):
        width = embed_dim if layer == 0 else hidden
        shapes.update({f"rnn.weight_ih_l{layer}": (4 * hidden, width), f"rnn.weight_hh_l{layer}": (4 * hidden, hidden),
                       f"rnn.bias_ih_l{layer}": (4 * hidden,), f"rnn.bias_hh_l{layer}": (4 * hidden,)})
    return shapes


def read_lm(spec: str) -> SavedLM:
    """Resolve ``spec`` (a store name or a path), verify its checksums and check that its card,
    vocabulary and weights agree; every refusal names the model."""
    path = resolve_model(spec, KIND)
    config = read_card(path).config
    for name, (low, high) in SHAPE_LIMITS.items():
        value = config.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise DataError(f"{path}: the word LM's config field {name!r} is missing or out of range")
    if config.get("lang") not in ("en", "zh"):
        raise DataError(f"{path}: the word LM's language must be en or zh")
    embed_dim, hidden, layers, size = (config[k] for k in ("embed_dim", "hidden", "layers", "vocab_size"))
    shapes = tensor_shapes(path)  # verifies the checksums first
    wanted = {"embed.weight": (size, embed_dim), **rnn_shapes(embed_dim, hidden, layers)}
    wrong = [f"{name} {shapes.get(name, 'missing')}" for name, shape in wanted.items() if shapes.get(name) != shape]
    if wrong:
        raise DataError(f"{path}: not the word LM its card describes ({', '.join(wrong)})")
    vocab = Vocab.load(path / VOCAB_FILE)
    if len(vocab) != size or vocab.words[:LM_SPECIALS] != [PAD, UNK, EOS]:
        raise DataError(f"{path}/{VOCAB_FILE} does not match the word LM (expected {size:,} entries starting "
                        f"with {PAD}, {UNK}, {EOS})")
    words = Vocab([PAD, UNK, *vocab.words[LM_SPECIALS:]], [0, int(vocab.counts[1]), *vocab.counts[LM_SPECIALS:]])
    shape = {"cell": "lstm", "bidirectional": False, "embed_dim": embed_dim, "hidden": hidden, "layers": layers,
             "vocab_size": len(words)}
    return SavedLM(Path(path), config["lang"], shape, words)


def lm_rows(vocab_size: int):
    """The LM's embedding row of each classifier row but ``<pad>`` (rows 1.. of the classifier)."""
    import torch

    return torch.cat([torch.tensor([1]), torch.arange(LM_SPECIALS, vocab_size + 1)])


def init_from_lm(model, lm: SavedLM) -> dict:
    """Copy the LM's embedding rows (``<pad>`` stays zero) and LSTM weights into a fresh
    classifier on the CPU; returns what the card records (``data.from_lm``)."""
    import torch

    from textlab.store.files import load_tensors

    tensors = load_tensors(lm.path)
    embedding = model.embedding.weight
    if tuple(embedding.shape) != (lm.shape["vocab_size"], lm.shape["embed_dim"]):
        raise DataError(f"{lm.path}: the classifier's embedding {tuple(embedding.shape)} does not fit the word LM")
    with torch.no_grad():
        embedding[1:] = tensors["embed.weight"][lm_rows(len(lm.vocab))].to(embedding.dtype)
        for name in rnn_shapes(lm.shape["embed_dim"], lm.shape["hidden"], lm.shape["layers"]):
            getattr(model.rnn, name.removeprefix("rnn.")).copy_(tensors[name])
    return {"model": str(lm.path), "words": len(lm.vocab) - 2, "embed_dim": lm.shape["embed_dim"],
            "hidden": lm.shape["hidden"], "layers": lm.shape["layers"]}
