"""How a fresh model starts: random weights, or its embedding from saved word vectors
(``--pretrained-w2v``, read by :mod:`textlab.sentiment.word2vec_init`). An initialiser decides
the embedding's dimension before the vocabulary is encoded (:func:`embedding_dim`) and fills the
fresh model's weights on the CPU before it moves to the device (:func:`initialise`); a further
one (e.g. from a saved language model) sits beside it in both."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textlab.runtime.output import say

if TYPE_CHECKING:
    from textlab.sentiment.model import SentimentModel
    from textlab.text import Vocab


def embedding_dim(embed_dim: int, pretrained_w2v: str | None) -> int:
    """``--embed-dim``, or the dimension of the word vectors the embedding starts from."""
    if not pretrained_w2v:
        return embed_dim
    from textlab.sentiment.word2vec_init import word2vec_dim

    dim = word2vec_dim(pretrained_w2v)
    if dim != embed_dim:
        say(f"--embed-dim {embed_dim} differs from the word2vec dimension {dim}: using {dim}", style="yellow")
    return dim


def initialise(model: SentimentModel, vocab: Vocab, pretrained_w2v: str | None) -> dict | None:
    """Fill a fresh model's weights from what it starts from; returns what the card records
    (``data.pretrained_w2v``), or None for random weights."""
    if not pretrained_w2v:
        return None
    from textlab.sentiment.word2vec_init import init_embedding

    w2v = init_embedding(model.embedding, vocab, pretrained_w2v)
    say(f"embedding initialised from {w2v['model']}: {w2v['covered']:,} of {len(vocab):,} words")
    return w2v
