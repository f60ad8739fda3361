"""A corpus to word ids: one line is one document (a review; in an aclImdb dataset, one review
file), tokenized by the word models'
tokenizer (:func:`textlab.text.word_model_options`: lowercased, as sentiment reads reviews) and
followed by ``<eos>``. The vocabulary is the ``vocab_words`` most frequent words of the training
documents after ``<pad>`` 0, ``<unk>`` 1, ``<eos>`` 2; the validation text is the last
``valid_fraction`` of the documents, or ``--valid-data FILE``.

The corpus is read and tokenized once: each distinct word gets a provisional id as it comes, so
the whole corpus is one int32 array (4 bytes a token, plus the distinct words) until the
vocabulary maps it to its final ids. Memory grows with the corpus, as the char LM's does.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from textlab.data import iter_corpus_lines, resolve_corpus
from textlab.data.reviews import is_aclimdb, iter_review_texts
from textlab.errors import DataError, UsageError
from textlab.text import EOS, PAD, UNK, Vocab, guess_lang, tokenize_stream, word_model_options

PAD_ID, UNK_ID, EOS_ID = 0, 1, 2
LANG_SAMPLE = 500  # documents read before --lang auto decides


@dataclass
class WordData:
    """A corpus encoded as ids (documents each followed by <eos>, the stream starting with one)
    and split for training."""

    name: str
    lang: str
    vocab: Vocab
    train: np.ndarray
    valid: np.ndarray
    train_documents: int
    valid_documents: int
    valid_unknown: int  # validation words outside the vocabulary
    valid_data: str | None = None

    def summary(self) -> dict:
        info = {"corpus": self.name, "lang": self.lang, "documents": self.train_documents + self.valid_documents,
                "train_documents": self.train_documents, "valid_documents": self.valid_documents,
                "train_tokens": int(len(self.train)), "valid_tokens": int(len(self.valid)),
                "vocab_size": len(self.vocab), "train_unk_rate": round(train_unk_rate(self.vocab), 5),
                "valid_unk_rate": round(self.valid_unknown / max(1, len(self.valid) - 1 - self.valid_documents), 5)}
        if self.valid_data:
            info["valid_data"] = self.valid_data
        return info


def train_unk_rate(vocab: Vocab) -> float:
    """The share of the training words (document ends not counted) outside the vocabulary."""
    words = int(vocab.counts.sum()) - int(vocab.counts[EOS_ID])
    return int(vocab.counts[UNK_ID]) / max(1, words)


def read_documents(spec: str) -> Iterator[str]:
    """The documents of a corpus: the lines of any text corpus textlab reads (empty ones
    skipped); for ``imdb`` (an aclImdb directory or tarball) the reviews of its train split,
    labelled then unlabelled (the test split is never read)."""
    path = resolve_corpus(spec)
    if is_aclimdb(path):
        return iter_review_texts(path, "train")
    return iter_corpus_lines(path)


def resolve_lang(lang: str, lines: Iterator[str]) -> tuple[str, Iterator[str]]:
    """``auto``: the language most of the first documents are in (the lines are given back whole)."""
    if lang not in ("en", "zh", "auto"):
        raise UsageError(f"unknown language {lang!r}; use en, zh or auto")
    if lang != "auto":
        return lang, lines
    first = list(itertools.islice(lines, LANG_SAMPLE))
    return guess_lang(first), itertools.chain(first, lines)


def token_lists(lines: Iterable[str], lang: str, workers: int | None = None) -> Iterator[list[str]]:
    """The tokens of each document that has any."""
    for block in tokenize_stream(lines, word_model_options(lang), workers=workers):
        for joined in block:
            if joined:
                yield joined.split()


def with_eos(ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``<eos> doc1 <eos> doc2 <eos> ...``: every word and every document end is a target."""
    out = np.empty(len(ids) + len(lengths) + 1, dtype=np.int32)
    words = np.ones(len(out), dtype=bool)
    words[0] = False
    words[np.cumsum(np.asarray(lengths, dtype=np.int64) + 1)] = False
    out[~words] = EOS_ID
    out[words] = ids
    return out


@dataclass
class Encoded:
    """Documents as one id array (no <eos> yet) and each document's length."""

    ids: np.ndarray
    lengths: np.ndarray


def encode_provisional(lines: Iterable[str], lang: str, workers: int | None = None) -> tuple[Encoded, dict[str, int]]:
    """Every distinct word gets the next id as it first comes: the corpus read once."""
    index: dict[str, int] = {}
    pieces: list[np.ndarray] = []
    lengths: list[int] = []
    for tokens in token_lists(lines, lang, workers):
        pieces.append(np.fromiter((index.setdefault(t, len(index)) for t in tokens), dtype=np.int32, count=len(tokens)))
        lengths.append(len(tokens))
    ids = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int32)
    return Encoded(ids, np.asarray(lengths, dtype=np.int64)), index


def build_vocab(encoded: Encoded, index: dict[str, int], documents: int, vocab_words: int) -> Vocab:
    """The ``vocab_words`` most frequent words of the first ``documents`` (ties alphabetical)
    after <pad>, <unk> (its count: the tokens left out) and <eos> (its count: the documents)."""
    end = int(encoded.lengths[:documents].sum())
    counts = np.bincount(encoded.ids[:end], minlength=len(index))
    counter = Counter({word: int(counts[i]) for word, i in index.items() if counts[i]})
    vocab = Vocab.from_counter(counter, size=vocab_words, specials=(PAD, UNK, EOS))
    vocab.counts[EOS_ID] = documents
    return vocab


def final_ids(encoded: Encoded, index: dict[str, int], vocab: Vocab) -> np.ndarray:
    """The provisional ids mapped to the vocabulary's (words outside it to <unk>)."""
    table = np.full(max(1, len(index)), UNK_ID, dtype=np.int32)
    for word, final in vocab.index.items():
        provisional = index.get(word)
        if provisional is not None and final > EOS_ID:
            table[provisional] = final
    return table[encoded.ids] if len(encoded.ids) else encoded.ids


def encode_with(vocab: Vocab, lines: Iterable[str], lang: str, workers: int | None = None) -> tuple[np.ndarray, int, int]:
    """Text in a known vocabulary: the id stream (with <eos>), its documents and its unknown words."""
    arrays, lengths = [], []
    for tokens in token_lists(lines, lang, workers):
        arrays.append(vocab.encode_array(tokens))
        lengths.append(len(tokens))
    ids = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int32)
    return with_eos(ids, np.asarray(lengths, dtype=np.int64)), len(lengths), int((ids == UNK_ID).sum())


def load_word_data(spec: str, lang: str = "auto", vocab_size: int = 30_000, valid_fraction: float = 0.02,
                   valid_data: str | None = None, workers: int | None = None) -> WordData:
    """Read and tokenize a corpus, build the vocabulary on its training documents and split it."""
    if not 0.0 < valid_fraction < 1.0:
        raise DataError(f"--valid-fraction must be between 0 and 1, got {valid_fraction}")
    if vocab_size < 1:
        raise UsageError("--vocab-size must be at least 1")
    lang, lines = resolve_lang(lang, read_documents(spec))
    valid_lines = read_documents(valid_data) if valid_data else None  # a missing file is named before tokenizing
    encoded, index = encode_provisional(lines, lang, workers)
    documents = len(encoded.lengths)
    if documents == 0:
        raise DataError(f"{spec} holds no words to learn from")
    if valid_lines is None and documents < 2:
        raise DataError(f"{spec} holds a single document (line); the validation text is the last --valid-fraction "
                        "of its documents: give more lines, or --valid-data FILE")
    n_valid = 0 if valid_lines is not None else min(documents - 1, max(1, round(documents * valid_fraction)))
    n_train = documents - n_valid
    vocab = build_vocab(encoded, index, n_train, vocab_size)
    ids, lengths = final_ids(encoded, index, vocab), encoded.lengths
    del encoded, index  # the provisional ids and the words outside the vocabulary
    split = int(lengths[:n_train].sum())
    train = with_eos(ids[:split], lengths[:n_train])
    if valid_lines is not None:
        valid, n_valid, unknown = encode_with(vocab, valid_lines, lang, workers)
        if n_valid == 0:
            raise DataError(f"{valid_data} holds no words to validate on")
    else:
        valid, unknown = with_eos(ids[split:], lengths[n_train:]), int((ids[split:] == UNK_ID).sum())
    name = spec if not Path(spec).exists() else str(Path(spec).resolve())
    return WordData(name, lang, vocab, train, valid, n_train, n_valid, unknown, valid_data)
