"""A corpus as one int32 array of word ids plus sentence boundaries, read in a single streaming
pass: tokens get provisional ids while counting, then are remapped to the pruned vocabulary.
No Python string per corpus word is ever kept."""

from __future__ import annotations

import tempfile
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from textlab.errors import DataError, UsageError
from textlab.runtime import ProgressBar
from textlab.text import TokenizerOptions, Vocab, tokenize_stream
from textlab.text.corpus_tokens import iter_corpus_token_lines

#: Longest sentence fed to the window (gensim's MAX_WORDS_IN_BATCH); longer lines are cut.
MAX_SENTENCE = 10000


@dataclass
class EncodedCorpus:
    """``ids`` of in-vocabulary words (int32) and ``starts`` of each sentence in ``ids``."""

    ids: np.ndarray
    starts: np.ndarray
    vocab: Vocab
    raw_tokens: int  # corpus tokens before vocabulary pruning

    @property
    def num_words(self) -> int:
        return int(self.ids.size)

    def sentence_ids(self, begin: int, end: int) -> np.ndarray:
        """Sentence number of every position in ``ids[begin:end]``."""
        return (np.searchsorted(self.starts, np.arange(begin, end), side="right") - 1).astype(np.int32)


#: Tokens per piece when the spooled ids are read back (bounds the temporaries).
PIECE_TOKENS = 1 << 20


class _Spool:
    """Provisional ids spooled to an anonymous temporary file while the corpus is read, so that
    only the final (pruned) id array ever lives in memory; plus each line's length."""

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile()
        self.lengths = array("q")
        self.tokens = 0

    def add(self, ids: np.ndarray) -> None:
        self.file.write(ids.tobytes())
        self.lengths.append(ids.size)
        self.tokens += ids.size

    def pieces(self):
        """The spooled ids again, in order, ``PIECE_TOKENS`` at a time."""
        self.file.flush()
        self.file.seek(0)
        buffer = np.empty(PIECE_TOKENS, dtype=np.int32)
        while True:
            got = self.file.readinto(memoryview(buffer).cast("B")) // 4
            if got == 0:
                return
            yield buffer[:got]


def encode_corpus(
    path: Path,
    options: TokenizerOptions,
    min_count: int = 5,
    max_vocab: int | None = None,
    vocab: Vocab | None = None,
    lines: Iterable[str] | None = None,
    merge_counts: Callable[[list[str], np.ndarray], tuple[list[str], np.ndarray]] | None = None,
) -> EncodedCorpus:
    """Tokenize ``path`` once; build the vocabulary (no specials, by descending count, ties as
    gensim sorts them) unless ``vocab`` is given, and return the corpus as word ids
    with out-of-vocabulary words dropped.

    Memory: one int32 per kept corpus token plus one Python string per distinct word.

    Distributed training reads one shard: ``lines`` are its raw lines (default: the whole
    corpus) and ``merge_counts(words, counts)`` returns the counts of all shards, from which
    every rank builds the same vocabulary."""
    provisional: dict[str, int] = {}
    spool = _Spool()
    with spool.file, ProgressBar(None, "read corpus", unit="lines") as bar:
        token_lines = iter_corpus_token_lines(path, options) if lines is None else _tokenized(lines, options)
        for number, joined in enumerate(token_lines, start=1):
            tokens = joined.split()
            if tokens:
                index = provisional.setdefault  # value = size before insertion
                spool.add(np.fromiter((index(t, len(provisional)) for t in tokens), np.int32, len(tokens)))
            if number % 2000 == 0:
                bar.update(advance=2000, words=f"{spool.tokens:,}")
        if spool.tokens == 0 and merge_counts is None:
            raise DataError(f"{path}: the corpus has no words")
        counts = np.zeros(len(provisional), dtype=np.int64)
        for piece in spool.pieces():  # bincount widens to int64: keep its input small
            counts += np.bincount(piece, minlength=len(provisional))
        words = list(provisional)
        del provisional
        if vocab is None:
            all_words, all_counts = merge_counts(words, counts) if merge_counts else (words, counts)
            if int(all_counts.sum()) == 0:
                raise DataError(f"{path}: the corpus has no words")
            vocab = _build_vocab(all_words, all_counts, min_count, max_vocab)
            del all_words, all_counts
            if len(vocab) < 2:
                raise DataError(f"{path}: fewer than 2 words occur at least {min_count} times; lower --min-count")
        remap = np.array([vocab.index.get(w, -1) for w in words], dtype=np.int32)
        del words
        ids = np.empty(int(counts[remap >= 0].sum()), dtype=np.int32)
        line_ends = np.cumsum(np.frombuffer(spool.lengths, dtype=np.int64))
        kept_at_ends = np.zeros(line_ends.size, dtype=np.int64)
        read = filled = 0
        for piece in spool.pieces():
            mapped = remap[piece]
            keep = mapped >= 0
            kept = mapped[keep]
            ids[filled : filled + kept.size] = kept
            # kept tokens before each line end that falls inside this piece
            first, last = np.searchsorted(line_ends, [read + 1, read + piece.size + 1])
            running = np.cumsum(keep)
            kept_at_ends[first:last] = filled + running[line_ends[first:last] - read - 1]
            read += piece.size
            filled += kept.size
    kept_lengths = np.diff(kept_at_ends, prepend=0)
    starts = _sentence_starts(kept_lengths)
    return EncodedCorpus(ids=ids, starts=starts, vocab=vocab, raw_tokens=spool.tokens)


def _tokenized(lines: Iterable[str], options: TokenizerOptions):
    for block in tokenize_stream(lines, options):
        yield from block


def _build_vocab(words: list[str], counts: np.ndarray, min_count: int, max_vocab: int | None) -> Vocab:
    """Words seen at least ``min_count`` times by descending count; no specials. Ties go as in
    gensim's ``sort_by_descending_frequency`` (the word first seen later comes first), so that
    "the 30,000 most frequent words" of an evaluation are the same words in both tools."""
    if min_count < 1:
        raise UsageError("--min-count must be at least 1")
    order = np.lexsort((-np.arange(counts.size), -counts))
    order = order[counts[order] >= min_count][: max_vocab or None]
    return Vocab([words[i] for i in order], counts[order])


def _sentence_starts(lengths: np.ndarray) -> np.ndarray:
    """Start offsets of sentences, long ones cut into MAX_SENTENCE pieces, empty ones dropped."""
    if lengths.size == 0:
        return np.zeros(0, dtype=np.int64)
    pieces = np.maximum(1, -(-lengths // MAX_SENTENCE))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    offsets = np.repeat(starts, pieces) + _ranks(pieces) * MAX_SENTENCE
    ends = np.repeat(starts + lengths, pieces)
    offsets = offsets[offsets < ends]
    return np.unique(offsets).astype(np.int64)


def _ranks(groups: np.ndarray) -> np.ndarray:
    """0, 1, ..., g-1 for each group size g, concatenated."""
    total = int(groups.sum())
    first = np.repeat(np.cumsum(groups) - groups, groups)
    return np.arange(total) - first
