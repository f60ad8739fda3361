"""``import-w2v``: a word2vec text/binary file becomes a textlab word2vec model (query vectors;
the output weights are unknown, so ``context`` is zeros and the card says it was imported)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from textlab.reservation import reserve_output
from textlab.store.cards import ModelCard
from textlab.store.files import save_model
from textlab.text import Vocab
from textlab.w2v.formats import load_word2vec_format
from textlab.w2v.config import Word2VecConfig


def import_word2vec(file: Path, output: Path, force: bool = False) -> tuple[int, int]:
    with reserve_output(output, force, "model"):
        return _import(file, output, force)


def _import(file: Path, output: Path, force: bool) -> tuple[int, int]:
    words, vectors = load_word2vec_format(file)
    count, dim = vectors.shape
    # The format stores no counts: like gensim, rank order stands in for them (most frequent first).
    vocab = Vocab(words, np.arange(count, 0, -1, dtype=np.int64))
    config = Word2VecConfig(dim=dim, vocab_size=count, epochs=1, lang="none", min_count=1)
    card = ModelCard(kind="word2vec", config=dataclasses.asdict(config),
                     data={"imported_from": str(Path(file).resolve()), "vocab_size": count},
                     extra={"imported": True})
    tensors = {"vectors": np.asarray(vectors, dtype=np.float32), "context": np.zeros((count, dim), dtype=np.float32)}
    save_model(output, card, tensors, vocab_tsv=vocab.to_tsv(), force=force)
    return count, dim
