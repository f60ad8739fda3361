"""Word vectors for queries (nearest neighbours, analogies, similarity), shaped like gensim's
``KeyedVectors``; and which word model answers a query when none is named."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence, Union

import numpy as np

from textlab.errors import DataError, TextlabError
from textlab.store.cards import VOCAB_FILE, ModelCard
from textlab.store.choice import ModelChoice, choose_model

METHODS = ("add", "mul")
KIND = "word2vec"
#: Words of a vocabulary read to tell its language when the card does not say it.
LANGUAGE_SAMPLE = 500

Query = Union[str, np.ndarray]


class UnknownWordError(TextlabError, KeyError):
    """A query word outside the vocabulary; a ``KeyError`` too, as gensim raises."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class KeyedVectors:
    """``words`` (most frequent first) and their ``vectors`` [V, dim] float32.

    As in gensim: ``kv["king"]`` (the vector), ``"king" in kv``, ``kv.most_similar("king",
    topn=3)``, ``kv.most_similar(positive=["king", "woman"], negative=["man"], topn=3)``,
    ``kv.most_similar_cosmul(...)``, ``kv.similarity("king", "queen")``, ``kv.index_to_key``
    and ``kv.key_to_index``.

    ``lowercase``: the model was trained on lowercased text, so a word not found as written is
    looked up lowercased (``Movie`` finds ``movie``). ``name`` names the model in messages.
    """

    def __init__(self, words: Sequence[str], vectors: np.ndarray, lowercase: bool = False, name: str = ""):
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise DataError(f"{len(words)} words but vectors of shape {tuple(vectors.shape)}")
        self.words = list(words)
        self.vectors = vectors
        self.index = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise DataError("the vocabulary lists a word twice")
        self.lowercase = lowercase
        self.name = name
        self.choice: ModelChoice | None = None  # set by load_keyed_vectors: the model and how it was chosen
        self._unit: np.ndarray | None = None

    # ------------------------------------------------------------------ gensim's names
    @property
    def index_to_key(self) -> list[str]:
        return self.words

    @property
    def key_to_index(self) -> dict[str, int]:
        return self.index

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self._find(word) is not None

    def __getitem__(self, key: str | Sequence[str]) -> np.ndarray:
        """The vector of a word, or a [n, dim] array for a list of words."""
        if isinstance(key, str):
            return self.vectors[self.id_of(key)]
        return self.vectors[[self.id_of(word) for word in key]]

    def get_index(self, word: str) -> int:
        return self.id_of(word)

    def get_vector(self, word: str, norm: bool = False) -> np.ndarray:
        return (self.unit if norm else self.vectors)[self.id_of(word)]

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    vector_size = dim

    @property
    def language(self) -> str:
        """``en`` or ``zh``: the model's (see :func:`model_language`), else told from the words."""
        if self.choice is not None:
            return model_language(self.choice.path, self.choice.card)
        return vocabulary_language(self.words[:LANGUAGE_SAMPLE])

    @property
    def unit(self) -> np.ndarray:
        """Vectors scaled to unit length (zero vectors stay zero)."""
        if self._unit is None:
            norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
            self._unit = self.vectors / np.maximum(norms, 1e-12)
        return self._unit

    # ------------------------------------------------------------------ lookups
    def _find(self, word: str) -> int | None:
        found = self.index.get(word)
        if found is None and self.lowercase:
            found = self.index.get(word.lower())
        return found

    def id_of(self, word: str) -> int:
        found = self._find(word)
        if found is None:
            where = f"the vocabulary of {self.name}" if self.name else "the vocabulary"
            raise UnknownWordError(f"word {word!r} is not in {where} ({len(self.words):,} words)")
        return found

    def vector(self, word: str) -> np.ndarray:
        return self.vectors[self.id_of(word)]

    def similarity(self, first: str, second: str) -> float:
        """Cosine similarity of two words."""
        return float(self.unit[self.id_of(first)] @ self.unit[self.id_of(second)])

    def _top(self, scores: np.ndarray, exclude: Iterable[int], k: int) -> list[tuple[str, float]]:
        scores = scores.astype(np.float64, copy=True)
        exclude = sorted(set(exclude))
        scores[exclude] = -np.inf
        k = min(int(k), len(scores) - len(exclude))
        if k <= 0:
            return []
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self.words[i], float(scores[i])) for i in best]

    def _terms(self, items: Query | Sequence[Query] | None) -> tuple[list[np.ndarray], list[int]]:
        """Unit vectors of the words (vectors are taken as given) and the ids to exclude."""
        if items is None:
            return [], []
        if isinstance(items, (str, np.ndarray)):
            items = [items]
        vectors, ids = [], []
        for item in items:
            if isinstance(item, np.ndarray):
                vectors.append(np.asarray(item, dtype=np.float32))
            else:
                ids.append(self.id_of(item))
                vectors.append(self.unit[ids[-1]])
        return vectors, ids

    def most_similar(self, positive: Query | Sequence[Query] | None = None,
                     negative: Query | Sequence[Query] | None = None, topn: int = 10,
                     *, k: int | None = None) -> list[tuple[str, float]]:
        """The ``topn`` words nearest (cosine) to the mean of the ``positive`` unit vectors minus
        the ``negative`` ones, the query words excluded, as gensim's ``most_similar``.
        ``k`` is the older name of ``topn``; ``most_similar(word, 5)`` still means top 5."""
        positive, negative, topn = _old_call(positive, negative, topn, k)
        pos, pos_ids = self._terms(positive)
        neg, neg_ids = self._terms(negative)
        if not pos and not neg:
            raise TextlabError("most_similar needs at least one word")
        query = np.sum(pos, axis=0) if pos else np.zeros(self.dim, np.float32)
        if neg:
            query = query - np.sum(neg, axis=0)
        query = query / max(float(np.linalg.norm(query)), 1e-12)
        return self._top(self.unit @ query, pos_ids + neg_ids, topn)

    def most_similar_cosmul(self, positive: Sequence[str] | str | None = None,
                            negative: Sequence[str] | str | None = None, topn: int = 10) -> list[tuple[str, float]]:
        """3CosMul (Levy & Goldberg 2014), as gensim's ``most_similar_cosmul``: the product of
        the (shifted) cosines to ``positive`` over the product of those to ``negative``."""
        pos, pos_ids = self._terms(positive)
        neg, neg_ids = self._terms(negative)
        if not pos:
            raise TextlabError("most_similar_cosmul needs at least one positive word")
        shifted = [(self.unit @ (v / max(float(np.linalg.norm(v)), 1e-12)) + 1.0) / 2.0 for v in pos + neg]
        scores = np.prod(shifted[: len(pos)], axis=0) / (np.prod(shifted[len(pos):], axis=0) + 1e-6)
        return self._top(scores, pos_ids + neg_ids, topn)

    def analogy(self, a: str, b: str, c: str, k: int = 5, method: str = "add") -> list[tuple[str, float]]:
        """``a - b + c``: ``analogy("king", "man", "woman")`` → queen. ``add`` is 3CosAdd,
        ``mul`` 3CosMul (as gensim's ``most_similar_cosmul``)."""
        if method not in METHODS:
            raise TextlabError(f"unknown analogy method {method!r}; use add or mul")
        if method == "add":
            return self.most_similar(positive=[a, c], negative=[b], topn=k)
        for word in (a, b, c):  # name an unknown word in the order given
            self.id_of(word)
        return self.most_similar_cosmul(positive=[a, c], negative=[b], topn=k)


def _old_call(positive, negative, topn, k):
    """``most_similar(word, 5)`` and ``most_similar(word, 5, ["man"])`` (the older positional
    order: word, k, negative) mean what they used to."""
    if isinstance(negative, (int, np.integer)) and not isinstance(negative, bool):
        negative, topn = (topn if isinstance(topn, (list, tuple, str)) else None), int(negative)
    if k is not None:
        topn = k
    if isinstance(topn, bool) or not isinstance(topn, (int, np.integer)) or topn < 1:
        raise TextlabError(f"topn must be a positive whole number, got {topn!r}")
    return positive, negative, int(topn)


# ---------------------------------------------------------------------- which model answers


def vocabulary_language(words: Sequence[str]) -> str:
    """``zh`` when at least half of ``words`` hold Chinese characters, else ``en``."""
    from textlab.text import detect_lang

    chinese = sum(detect_lang(word) == "zh" for word in words)
    return "zh" if words and chinese * 2 >= len(words) else "en"


def model_language(path: Path, card: ModelCard) -> str:
    """``en`` or ``zh``: the card's ``config.lang`` when it names one, else told from the most
    frequent words of the vocabulary (:func:`vocabulary_language`)."""
    lang = card.config.get("lang")
    if lang in ("en", "zh"):
        return lang
    words = []
    try:
        with open(Path(path) / VOCAB_FILE, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                words.append(line.split("\t", 1)[0])
                if len(words) >= LANGUAGE_SAMPLE:
                    break
    except OSError:
        return "en"
    return vocabulary_language(words)


def folds_case(card: ModelCard) -> bool:
    """Whether the model was trained on lowercased text: ``config.lowercase`` (or
    ``extra.tokenizer.lowercase``) when the card says; imported vectors keep their case; else
    textlab's tokenizers lowercase, except ``--lang none`` (split on white space only)."""
    extra = card.extra if isinstance(card.extra, dict) else {}
    tokenizer = extra.get("tokenizer") if isinstance(extra.get("tokenizer"), dict) else {}
    for said in (card.config.get("lowercase"), tokenizer.get("lowercase")):
        if isinstance(said, bool):
            return said
    if extra.get("imported"):
        return False
    return card.config.get("lang") != "none"


def query_language(words: Sequence[str]) -> str | None:
    """``zh`` when the query words hold Chinese characters, ``en`` otherwise; None for no words."""
    from textlab.text import detect_lang

    return detect_lang(" ".join(words)) if words else None


def choose_word_model(spec: str | Path | None = None, query: Sequence[str] = ()) -> ModelChoice:
    """``--model`` when given; else a model in the language of the ``query`` words (the
    newest in the store, else ``shipped:zh`` for Chinese words, ``shipped:en`` otherwise);
    with no query words, the newest model in the store, else ``shipped:en``."""
    lang = query_language(query)
    fits = (lambda path, card: model_language(path, card) == lang) if lang else None
    return choose_model(spec, KIND, fits=fits, shipped_order=("zh", "en") if lang == "zh" else ("en", "zh"),
                        language=model_language,
                        make="textlab train-w2v hongloumeng" if lang == "zh" else None)


def load_keyed_vectors(spec: str | Path | ModelChoice | None = None, query: Sequence[str] = ()) -> KeyedVectors:
    """The query vectors of a word2vec model: ``spec`` (``NAME``, a directory or
    ``shipped:NAME``, or a :class:`ModelChoice`), else the model :func:`choose_word_model`
    picks for the ``query`` words. The result's ``choice`` says which model it is."""
    from textlab.w2v.loading import load_vectors

    choice = spec if isinstance(spec, ModelChoice) else choose_word_model(spec, query)
    words, vectors = load_vectors(choice.path)
    kv = KeyedVectors(words, vectors, lowercase=folds_case(choice.card), name=choice.name)
    kv.choice = choice
    return kv
