"""How a fresh model starts: random weights, its embedding from saved word vectors
(``--pretrained-w2v``, read by :mod:`textlab.sentiment.word2vec_init`), or its vocabulary,
embedding and LSTM from a saved word language model (``--from-lm``, read by
:mod:`textlab.sentiment.lm_init`). An initialiser settles the model's shape before the
vocabulary is encoded (:func:`embedding_dim`, :func:`from_lm_options`) and fills the fresh
model's weights on the CPU before it moves to the device (:func:`initialise`)."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import TYPE_CHECKING

from textlab.errors import UsageError
from textlab.runtime.output import say
from textlab.sentiment.config import FROM_LM_DEFAULTS, FROM_LM_SHAPE, SPECIALS, SentimentConfig, TrainSettings

if TYPE_CHECKING:
    from textlab.sentiment.lm_init import SavedLM
    from textlab.sentiment.model import SentimentModel
    from textlab.text import Vocab


def _typed(name: str, value, given: dict | None) -> bool:
    """Whether an option was given: typed on the command line, or (an API call, ``given`` None)
    set to something other than its default."""
    if given is not None:
        return given.get(name) is not None
    default = getattr(SentimentConfig, name, getattr(TrainSettings, name, None))
    return value != default


def from_lm_options(config: SentimentConfig, settings: TrainSettings, lm: SavedLM, pretrained_w2v: str | None,
                    given: dict | None) -> tuple[SentimentConfig, TrainSettings]:
    """The config and settings of a fresh ``--from-lm`` run: the LM's shape (a given option that
    differs is named in one line, and the LM's value used) and :data:`FROM_LM_DEFAULTS` where
    the option was not given."""
    if pretrained_w2v:
        raise UsageError("--from-lm and --pretrained-w2v both initialise the embedding: give one of them")
    values = {**asdict(config), **asdict(settings)}
    named = []
    for name in FROM_LM_SHAPE:
        ours, theirs = values[name], lm.shape[name]
        if name == "vocab_size":  # --vocab-size counts words
            ours, theirs = ours - SPECIALS, theirs - SPECIALS
        if _typed(name, values[name], given) and ours != theirs:
            named.append(f"--{name.replace('_', '-')} {ours} (the LM's: {theirs})")
    if named:
        say(f"--from-lm {lm.path.name} sets the model's shape; not applied: " + ", ".join(named), style="yellow")
    chosen = {**lm.shape, **{k: v for k, v in FROM_LM_DEFAULTS.items() if not _typed(k, values[k], given)}}
    config = replace(config, **{k: v for k, v in chosen.items() if hasattr(config, k)})
    settings = replace(settings, **{k: v for k, v in chosen.items() if hasattr(settings, k)})
    return config, settings


def embedding_dim(embed_dim: int, pretrained_w2v: str | None) -> int:
    """``--embed-dim``, or the dimension of the word vectors the embedding starts from."""
    if not pretrained_w2v:
        return embed_dim
    from textlab.sentiment.word2vec_init import word2vec_dim

    dim = word2vec_dim(pretrained_w2v)
    if dim != embed_dim:
        say(f"--embed-dim {embed_dim} differs from the word2vec dimension {dim}: using {dim}", style="yellow")
    return dim


def initialise(model: SentimentModel, vocab: Vocab, pretrained_w2v: str | None, lm: SavedLM | None = None) -> dict:
    """Fill a fresh model's weights from what it starts from; returns what the card records
    (``data.pretrained_w2v``, ``data.from_lm``: None for random weights)."""
    record = {"pretrained_w2v": None, "from_lm": None}
    if pretrained_w2v:
        from textlab.sentiment.word2vec_init import init_embedding

        w2v = record["pretrained_w2v"] = init_embedding(model.embedding, vocab, pretrained_w2v)
        say(f"embedding initialised from {w2v['model']}: {w2v['covered']:,} of {len(vocab):,} words")
    if lm is not None:
        from textlab.sentiment.lm_init import init_from_lm

        started = record["from_lm"] = init_from_lm(model, lm)
        say(f"embedding and LSTM initialised from the word LM {started['model']} ({started['words']:,} words)")
    return record
