"""Vocabulary: the most frequent words plus special tokens, with counts, saved as TSV."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from textlab.atomic import atomic_write_text
from textlab.errors import DataError, UsageError

PAD = "<pad>"
UNK = "<unk>"
EOS = "<eos>"  # the end of a document, in a word LM's vocabulary (id 2, after <pad> and <unk>)
SPECIALS = (PAD, UNK)


class Vocab:
    """Words with ids and counts. Specials (``<pad>``, ``<unk>``) come first, then words by
    descending count, ties broken alphabetically so builds are deterministic.

    The ``<unk>`` count is the number of corpus tokens that fell outside the vocabulary.
    """

    def __init__(self, words: Sequence[str], counts: Sequence[int]):
        if len(words) != len(counts):
            raise ValueError("words and counts differ in length")
        self.words: list[str] = list(words)
        self.counts = np.asarray(counts, dtype=np.int64)
        self.index: dict[str, int] = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise DataError("the vocabulary lists a word twice")
        self.pad_id = self.index.get(PAD)
        self.unk_id = self.index.get(UNK)
        self.eos_id = self.index.get(EOS)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_counter(
        cls,
        counter: Counter,
        size: int | None = None,
        min_count: int = 1,
        specials: Sequence[str] = (UNK,),
    ) -> "Vocab":
        """Keep words with ``count >= min_count``, the ``size`` most frequent of them."""
        if size is not None and size < 1:
            raise UsageError("the vocabulary size must be at least 1")
        if min_count < 1:
            raise UsageError("--min-count must be at least 1")
        items = [(w, c) for w, c in counter.items() if c >= min_count and w not in specials]
        items.sort(key=lambda wc: (-wc[1], wc[0]))
        if size is not None:
            items = items[:size]
        total = sum(counter.values())
        kept = sum(c for _, c in items)
        special_counts = [total - kept if s == UNK else 0 for s in specials]
        return cls(list(specials) + [w for w, _ in items], special_counts + [c for _, c in items])

    @classmethod
    def build(
        cls,
        token_lines: Iterable[Sequence[str]],
        size: int | None = None,
        min_count: int = 1,
        specials: Sequence[str] = (UNK,),
    ) -> "Vocab":
        counter: Counter = Counter()
        for tokens in token_lines:
            counter.update(tokens)
        return cls.from_counter(counter, size=size, min_count=min_count, specials=specials)

    # ------------------------------------------------------------------ lookup
    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def __getitem__(self, word: str) -> int:
        """Id of ``word``; the ``<unk>`` id for unknown words (KeyError if there is no ``<unk>``)."""
        found = self.index.get(word)
        if found is not None:
            return found
        if self.unk_id is None:
            raise KeyError(word)
        return self.unk_id

    def word(self, idx: int) -> str:
        return self.words[idx]

    def count(self, word: str) -> int:
        idx = self.index.get(word)
        return 0 if idx is None else int(self.counts[idx])

    @property
    def num_specials(self) -> int:
        """The specials in front: ``<pad>``/``<unk>``, and ``<eos>`` after them in a word LM's."""
        leading = sum(1 for w in self.words[:2] if w in SPECIALS)
        return leading + (leading == 2 and len(self.words) > 2 and self.words[2] == EOS)

    def encode(self, tokens: Iterable[str]) -> list[int]:
        get, unk = self.index.get, self.unk_id
        if unk is None:
            return [i for i in (get(t) for t in tokens) if i is not None]
        return [get(t, unk) for t in tokens]

    def encode_array(self, tokens: Iterable[str], drop_unknown: bool = False) -> np.ndarray:
        """Ids as an int32 array; with ``drop_unknown`` out-of-vocabulary tokens are skipped."""
        get = self.index.get
        if drop_unknown or self.unk_id is None:
            ids = [i for i in map(get, tokens) if i is not None]
        else:
            unk = self.unk_id
            ids = [get(t, unk) for t in tokens]
        return np.fromiter(ids, dtype=np.int32, count=len(ids))

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.words[i] for i in ids]

    def unk_rate(self) -> float:
        """Share of corpus tokens mapped to ``<unk>`` when the vocabulary was built."""
        total = int(self.counts.sum())
        return 0.0 if self.unk_id is None or total == 0 else float(self.counts[self.unk_id]) / total

    # ------------------------------------------------------------------ IO
    def to_tsv(self) -> str:
        return "".join(f"{w}\t{int(c)}\n" for w, c in zip(self.words, self.counts))

    @classmethod
    def from_tsv(cls, text: str, where: str = "vocabulary") -> "Vocab":
        words, counts = [], []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line:
                continue
            parts = line.split("\t")
            if len(parts) != 2 or not parts[0]:
                raise DataError(f"{where}, line {number}: expected 'word<TAB>count'")
            try:
                count = int(parts[1])
            except ValueError:
                raise DataError(f"{where}, line {number}: count {parts[1]!r} is not an integer") from None
            if count < 0:
                raise DataError(f"{where}, line {number}: negative count")
            words.append(parts[0])
            counts.append(count)
        return cls(words, counts)

    def save(self, path: Path) -> None:
        atomic_write_text(Path(path), self.to_tsv(), what="the vocabulary")

    @classmethod
    def load(cls, path: Path) -> "Vocab":
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"cannot read the vocabulary {path}: {exc}") from exc
        return cls.from_tsv(text, where=str(path))
