"""Reviews to tensors: tokenize (textlab.text), build the vocabulary, encode, truncate long
reviews to head + tail, hash word bigrams for the bag and word/character n-grams for the n-gram
branch, and cut length-sorted batches so that little padding is computed. Encoding needs no
torch (the numpy scorer uses it); batches are tensors (:func:`collate` imports torch)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Iterator, NamedTuple, Sequence

import numpy as np

from textlab.sentiment.hashing import hashed_ngrams
from textlab.text import PAD, UNK, TokenizerOptions, Vocab, tokenize_line, tokenize_stream, word_model_options

if TYPE_CHECKING:
    import torch

BIGRAM_PRIME = 1_000_003


def tokenizer_options(lang: str) -> TokenizerOptions:
    """The word models' tokenizer (the word LM's too, so its vocabulary fits)."""
    return word_model_options(lang)


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


class EncodedText(NamedTuple):
    """One text as the model reads it."""

    sequence: np.ndarray  # word ids fed to the RNN (at most max_len: head + tail)
    bag: np.ndarray  # unigram + hashed bigram ids of the bag (empty when the model has none)
    ngram_branch: np.ndarray | None  # hashed n-gram ids of the n-gram branch (None when it has none)
    words: int  # tokens in the whole text (the length the calibration's temperature depends on)


@dataclass
class Encoder:
    """Turns token lists into the model's inputs (word ids, bag ids, n-gram-branch ids)."""

    vocab: Vocab
    max_len: int
    head_len: int
    bag_buckets: int
    bag_max_len: int
    ngram_branch_buckets: int = 0
    ngram_branch_max_n: int = 3
    ngram_branch_units: str = "words"  # words | chars | words+chars
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

    def bag(self, ids: np.ndarray) -> np.ndarray:
        """Unigram ids plus hashed bigram ids (offset past the vocabulary) of the first
        ``bag_max_len`` words."""
        if self.bag_buckets == 0:
            return np.zeros(0, dtype=np.int64)
        ids = ids[: self.bag_max_len].astype(np.int64)
        bigrams = (ids[:-1] * BIGRAM_PRIME + ids[1:]) % self.bag_buckets + len(self.vocab)
        return np.concatenate([ids, bigrams])

    def ngram_branch(self, tokens: Sequence[str]) -> np.ndarray | None:
        """Hashed binary n-gram ids for the n-gram branch (None when the model has none)."""
        if self.ngram_branch_buckets <= 0:
            return None
        return hashed_ngrams(tokens, self.ngram_branch_buckets, self.ngram_branch_max_n, self.bag_max_len,
                             self.ngram_branch_units, self.char_separator).astype(np.int32)

    def encode(self, tokens: Sequence[str]) -> EncodedText:
        ids = self.ids(tokens)
        return EncodedText(self.sequence(ids), self.bag(ids), self.ngram_branch(tokens), len(tokens))


@dataclass
class EncodedReviews:
    """A labelled set, encoded (the training and the validation part)."""

    sequences: list = field(default_factory=list)  # np.int32 arrays (truncated word ids)
    bags: list = field(default_factory=list)  # np.int64 arrays (bag ids)
    labels: list = field(default_factory=list)
    ngram_branch: list = field(default_factory=list)  # np.int32 arrays (n-gram-branch ids) or None
    words: list = field(default_factory=list)  # tokens per review

    def __len__(self) -> int:
        return len(self.labels)

    def append(self, encoded: EncodedText, label: int) -> None:
        self.sequences.append(encoded.sequence)
        self.bags.append(encoded.bag)
        self.ngram_branch.append(encoded.ngram_branch)
        self.words.append(encoded.words)
        self.labels.append(label)

    def batch(self, index, pin: bool = False) -> "Batch":
        return collate([self.sequences[i] for i in index], [self.bags[i] for i in index],
                       [self.labels[i] for i in index], ngram_branch=[self.ngram_branch[i] for i in index],
                       words=[self.words[i] for i in index], pin=pin)


def encode_reviews(token_lists: Sequence[Sequence[str]], indices: Iterable[int], labels: Sequence[int],
                   encoder: Encoder) -> EncodedReviews:
    encoded = EncodedReviews()
    for i in indices:
        encoded.append(encoder.encode(token_lists[i]), labels[i])
    return encoded


@dataclass
class Batch:
    """Rows in descending length order (packing wants it): row ``r`` is item ``order[r]`` of
    the list given to :func:`collate`."""

    ids: torch.Tensor  # [B, T] int64, padded with 0
    lengths: torch.Tensor  # [B] int64, on the CPU (as packing wants), descending
    bag: tuple[torch.Tensor, torch.Tensor] | None  # flat ids, offsets (EmbeddingBag input)
    targets: torch.Tensor | None  # [B] float
    ngram_branch: tuple[torch.Tensor, torch.Tensor] | None = None  # flat ids, offsets
    words: torch.Tensor | None = None  # [B] float32: tokens per text (for the calibration)
    order: np.ndarray | None = None

    def to(self, device: torch.device) -> "Batch":
        """The tensors on ``device`` (lengths stay on the CPU); asynchronous from pinned memory."""
        def move(tensor):
            return None if tensor is None else tensor.to(device, non_blocking=True)

        def move_pair(pair):
            return None if pair is None else (move(pair[0]), move(pair[1]))

        return Batch(move(self.ids), self.lengths, move_pair(self.bag), move(self.targets),
                     move_pair(self.ngram_branch), move(self.words), self.order)


def pinned(tensor: torch.Tensor, pin: bool) -> torch.Tensor:
    """``tensor`` in page-locked memory when it is bound for a CUDA device (the copy can then
    run asynchronously, without a host synchronisation)."""
    return tensor.pin_memory() if pin else tensor


def collate(sequences: Sequence[np.ndarray], bags: Sequence[np.ndarray] | None, labels: Sequence[int] | None,
            ngram_branch: Sequence[np.ndarray | None] | None = None, words: Sequence[int] | None = None,
            pin: bool = False, step_multiple: int = 1) -> Batch:
    """One padded batch, rows sorted by length (longest first); ``pin`` for a CUDA device; its
    steps (columns) rounded up to a multiple of ``step_multiple`` (the padding is masked)."""
    import torch

    from textlab.sentiment.linear import flatten

    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    order = np.argsort(-lengths, kind="stable")
    lengths = lengths[order]
    ids = np.zeros((len(sequences), -(-int(lengths[0]) // step_multiple) * step_multiple), dtype=np.int64)
    for row, item in enumerate(order):
        ids[row, : lengths[row]] = sequences[item]

    def flat(arrays):
        return None if arrays is None or any(a is None for a in arrays) else \
            tuple(pinned(t, pin) for t in flatten([arrays[i] for i in order]))

    targets = None if labels is None else pinned(torch.tensor(np.asarray(labels)[order], dtype=torch.float32), pin)
    word_counts = None if words is None else pinned(torch.tensor(np.asarray(words)[order], dtype=torch.float32), pin)
    return Batch(pinned(torch.from_numpy(ids), pin), pinned(torch.from_numpy(lengths), pin), flat(bags), targets,
                 flat(ngram_branch), word_counts, order)


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
