"""Reviews to tensors: tokenize (textlab.text), build the vocabulary, encode, truncate long
reviews to head + tail, hash word bigrams for the bag-of-n-grams branch, and cut length-sorted
batches so that little padding is computed."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np
import torch

from textlab.sentiment.linear import flatten, hashed_ngrams
from textlab.text import PAD, UNK, TokenizerOptions, Vocab, tokenize_line, tokenize_stream

BIGRAM_PRIME = 1_000_003


def tokenizer_options(lang: str) -> TokenizerOptions:
    return TokenizerOptions(lang=lang, lowercase=True, stopwords=False)


def tokenize_texts(texts: Iterable[str], lang: str, workers: int | None = None) -> Iterator[list[str]]:
    """Token lists, one per text, through textlab's tokenizers (jieba for Chinese)."""
    for block in tokenize_stream(texts, tokenizer_options(lang), workers=workers):
        for joined in block:
            yield joined.split()


def tokenize_one(text: str, lang: str) -> list[str]:
    return tokenize_line(text, tokenizer_options(lang))


def build_vocab(token_lists: Iterable[Sequence[str]], size: int) -> Vocab:
    """The ``size`` most frequent words plus ``<pad>`` (id 0) and ``<unk>`` (id 1)."""
    counter: Counter = Counter()
    for tokens in token_lists:
        counter.update(tokens)
    return Vocab.from_counter(counter, size=size, specials=(PAD, UNK))


@dataclass
class Encoder:
    """Turns token lists into the model's inputs (word ids, and n-gram ids for the bag)."""

    vocab: Vocab
    max_len: int
    head_len: int
    ngram_buckets: int
    bag_max_len: int
    linear_buckets: int = 0
    linear_max_n: int = 3
    linear_units: str = "words"  # words | chars | words+chars
    char_separator: str = " "  # joins tokens for character n-grams ("" for Chinese)

    def ids(self, tokens: Sequence[str]) -> np.ndarray:
        """All word ids of a review (unknown words map to ``<unk>``)."""
        return self.vocab.encode_array(tokens)

    def sequence(self, ids: np.ndarray) -> np.ndarray:
        """At most ``max_len`` ids: the first ``head_len`` and the last ``max_len - head_len``;
        an empty review becomes a single ``<pad>`` so every sequence has length >= 1."""
        if len(ids) == 0:
            return np.zeros(1, dtype=np.int32)
        if len(ids) <= self.max_len:
            return ids
        tail = self.max_len - self.head_len
        return np.concatenate([ids[: self.head_len], ids[len(ids) - tail :]])

    def ngrams(self, ids: np.ndarray) -> np.ndarray:
        """Unigram ids plus hashed bigram ids (offset past the vocabulary) of the first
        ``bag_max_len`` words."""
        if self.ngram_buckets == 0:
            return np.zeros(0, dtype=np.int64)
        ids = ids[: self.bag_max_len].astype(np.int64)
        bigrams = (ids[:-1] * BIGRAM_PRIME + ids[1:]) % self.ngram_buckets + len(self.vocab)
        return np.concatenate([ids, bigrams])

    def linear(self, tokens: Sequence[str]) -> np.ndarray | None:
        """Hashed binary n-gram ids for the n-gram branch (None when the model has none)."""
        if self.linear_buckets <= 0:
            return None
        return hashed_ngrams(tokens, self.linear_buckets, self.linear_max_n, self.bag_max_len, self.linear_units,
                             self.char_separator).astype(np.int32)

    def encode(self, tokens: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        ids = self.ids(tokens)
        return self.sequence(ids), self.ngrams(ids), self.linear(tokens)


@dataclass
class Batch:
    ids: torch.Tensor  # [B, T] int64, padded with 0
    lengths: torch.Tensor  # [B] int64 (CPU, as packing wants)
    ngrams: tuple[torch.Tensor, torch.Tensor] | None  # flat ids, offsets (EmbeddingBag input)
    targets: torch.Tensor | None  # [B] float
    linear: tuple[torch.Tensor, torch.Tensor] | None = None  # n-gram branch: flat ids, offsets

    def to(self, device: torch.device) -> "Batch":
        def move(pair):
            return None if pair is None else (pair[0].to(device), pair[1].to(device))

        targets = None if self.targets is None else self.targets.to(device)
        return Batch(self.ids.to(device), self.lengths, move(self.ngrams), targets, move(self.linear))


def collate(sequences: Sequence[np.ndarray], bags: Sequence[np.ndarray] | None, labels: Sequence[int] | None,
            linear: Sequence[np.ndarray] | None = None) -> Batch:
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    ids = np.zeros((len(sequences), int(lengths.max())), dtype=np.int64)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = seq
    ngrams = None if bags is None else flatten(bags)
    targets = None if labels is None else torch.tensor(labels, dtype=torch.float32)
    linear_pair = None if linear is None or any(b is None for b in linear) else flatten(linear)
    return Batch(torch.from_numpy(ids), torch.from_numpy(lengths), ngrams, targets, linear_pair)


def length_sorted_batches(lengths: Sequence[int], batch_size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    """Index batches of similar lengths. With ``rng``: shuffle, sort within pools of 50 batches,
    cut, and shuffle the batch order (the usual bucketing); without: plain length order."""
    lengths = np.asarray(lengths)
    if rng is None:
        order = np.argsort(lengths, kind="stable")
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    order = rng.permutation(len(lengths))
    pool = batch_size * 50
    batches = []
    for start in range(0, len(order), pool):
        chunk = order[start : start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches
