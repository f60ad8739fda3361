"""Word vectors for queries: nearest neighbours and analogies by cosine similarity."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from textlab.errors import DataError, TextlabError

METHODS = ("add", "mul")


class KeyedVectors:
    """``words`` (most frequent first) and their ``vectors`` [V, dim] float32."""

    def __init__(self, words: Sequence[str], vectors: np.ndarray):
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise DataError(f"{len(words)} words but vectors of shape {tuple(vectors.shape)}")
        self.words = list(words)
        self.vectors = vectors
        self.index = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise DataError("the vocabulary lists a word twice")
        self._unit: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def unit(self) -> np.ndarray:
        """Vectors scaled to unit length (zero vectors stay zero)."""
        if self._unit is None:
            norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
            self._unit = self.vectors / np.maximum(norms, 1e-12)
        return self._unit

    def id_of(self, word: str) -> int:
        found = self.index.get(word)
        if found is None:
            raise TextlabError(f"word {word!r} is not in the vocabulary ({len(self.words):,} words)")
        return found

    def vector(self, word: str) -> np.ndarray:
        return self.vectors[self.id_of(word)]

    def similarity(self, first: str, second: str) -> float:
        return float(self.unit[self.id_of(first)] @ self.unit[self.id_of(second)])

    def _top(self, scores: np.ndarray, exclude: Sequence[int], k: int) -> list[tuple[str, float]]:
        scores = scores.astype(np.float64, copy=True)
        scores[list(exclude)] = -np.inf
        k = min(k, len(scores) - len(set(exclude)))
        if k <= 0:
            return []
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self.words[i], float(scores[i])) for i in best]

    def most_similar(self, word: str | Sequence[str], k: int = 10, negative: Sequence[str] = ()) -> list[tuple[str, float]]:
        """Cosine neighbours of a word (or of the mean of ``positive`` minus ``negative`` unit
        vectors, as gensim's ``most_similar``), the query words excluded."""
        positive = [word] if isinstance(word, str) else list(word)
        pos_ids = [self.id_of(w) for w in positive]
        neg_ids = [self.id_of(w) for w in negative]
        query = self.unit[pos_ids].sum(0) - self.unit[neg_ids].sum(0)
        query /= max(float(np.linalg.norm(query)), 1e-12)
        return self._top(self.unit @ query, pos_ids + neg_ids, k)

    def analogy(self, a: str, b: str, c: str, k: int = 5, method: str = "add") -> list[tuple[str, float]]:
        """``a - b + c``: ``analogy("king", "man", "woman")`` → queen. ``add`` is 3CosAdd,
        ``mul`` 3CosMul (Levy & Goldberg 2014, as gensim's ``most_similar_cosmul``)."""
        if method not in METHODS:
            raise TextlabError(f"unknown analogy method {method!r}; use add or mul")
        ids = [self.id_of(w) for w in (a, b, c)]
        if method == "add":
            return self.most_similar([a, c], k=k, negative=[b])
        cos = [(self.unit @ self.unit[i] + 1.0) / 2.0 for i in ids]
        scores = cos[0] * cos[2] / (cos[1] + 1e-6)
        return self._top(scores, ids, k)


def load_keyed_vectors(spec: str | Path | None) -> KeyedVectors:
    """The query vectors of a saved word2vec model (``--model NAME|PATH``, default the newest)."""
    from textlab.w2v.saving import load_vectors

    words, vectors = load_vectors(spec)
    return KeyedVectors(words, vectors)
