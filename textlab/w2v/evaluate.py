"""Evaluation as gensim does it: analogy accuracy over the most frequent words
(``evaluate_word_analogies(restrict_vocab=30000)``, case-insensitive) and Spearman correlation
on word-pair similarity files (``evaluate_word_pairs``)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np

from textlab.errors import DataError
from textlab.w2v.keyed_vectors import KeyedVectors

RESTRICT_VOCAB = 30000
BATCH = 256


def gensim_test_file(name: str) -> Path:
    """A test set shipped with gensim (``questions-words.txt``, ``wordsim353.tsv``, ``simlex999.txt``)."""
    import importlib.util

    spec = importlib.util.find_spec("gensim")  # found without importing gensim (and scipy's weight)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"gensim is not installed, so its {name} is not available; pass the file explicitly")
    path = Path(list(spec.submodule_search_locations)[0]) / "test" / "test_data" / name
    if not path.is_file():
        raise DataError(f"gensim's test file {name} is missing at {path}")
    return path


def default_analogies() -> Path:
    return gensim_test_file("questions-words.txt")


def default_similarities() -> list[Path]:
    return [gensim_test_file("wordsim353.tsv"), gensim_test_file("simlex999.txt")]


def _read_lines(path: Path) -> Iterable[tuple[int, str]]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, start=1):
                yield number, line.rstrip("\n\r")
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _lower_index(vectors: KeyedVectors, restrict: int | None) -> dict[str, int]:
    """Lowercased word → id among the first ``restrict`` words; the most frequent spelling wins."""
    words = vectors.words[:restrict] if restrict else vectors.words
    index: dict[str, int] = {}
    for i, word in enumerate(words):
        index.setdefault(word.lower(), i)
    return index


def evaluate_analogies(vectors: KeyedVectors, path: Path, restrict_vocab: int = RESTRICT_VOCAB) -> dict:
    """Accuracy per section and in total on questions ``a b c d`` (is ``d`` the nearest word to
    ``b - a + c``, inputs excluded?) whose four words are among the ``restrict_vocab`` most
    frequent words."""
    index = _lower_index(vectors, restrict_vocab)
    sections: list[dict] = []
    questions: list[list[int]] = []
    for number, line in _read_lines(Path(path)):
        if not line.strip():
            continue
        if line.startswith(":"):
            sections.append({"section": line[1:].strip(), "questions": []})
            continue
        parts = line.lower().split()
        if len(parts) != 4:
            raise DataError(f"{path}, line {number}: expected 4 words per analogy question")
        if not sections:
            sections.append({"section": "", "questions": []})
        ids = [index.get(w) for w in parts]
        if None not in ids:
            sections[-1]["questions"].append(len(questions))
            questions.append(ids)
    correct = _answer(vectors, np.array(questions, dtype=np.int64).reshape(-1, 4), restrict_vocab)
    report = []
    for section in sections:
        right = int(correct[section["questions"]].sum()) if section["questions"] else 0
        seen = len(section["questions"])
        report.append({"section": section["section"], "correct": right, "seen": seen,
                       "accuracy": right / seen if seen else 0.0})
    total_right = int(correct.sum())
    return {"accuracy": total_right / len(questions) if questions else 0.0, "correct": total_right,
            "seen": len(questions), "sections": report}


def _answer(vectors: KeyedVectors, questions: np.ndarray, restrict: int) -> np.ndarray:
    unit = vectors.unit[:restrict]
    correct = np.zeros(len(questions), dtype=bool)
    for start in range(0, len(questions), BATCH):
        batch = questions[start : start + BATCH]
        query = unit[batch[:, 1]] - unit[batch[:, 0]] + unit[batch[:, 2]]
        scores = query @ unit.T
        rows = np.arange(len(batch))[:, None]
        scores[rows, batch[:, :3]] = -np.inf
        correct[start : start + BATCH] = scores.argmax(1) == batch[:, 3]
    return correct


def evaluate_similarity(vectors: KeyedVectors, path: Path) -> dict:
    """Spearman correlation between human scores and cosine similarities (``a<TAB>b<TAB>score``
    lines, ``#`` comments); pairs with unknown words are skipped and counted."""
    from scipy.stats import spearmanr

    index = _lower_index(vectors, None)
    human, model = [], []
    oov = 0
    for number, line in _read_lines(Path(path)):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) < 3:
            raise DataError(f"{path}, line {number}: expected 'word<TAB>word<TAB>score'")
        try:
            score = float(parts[2])
        except ValueError:
            raise DataError(f"{path}, line {number}: score {parts[2]!r} is not a number") from None
        first, second = index.get(parts[0].lower()), index.get(parts[1].lower())
        if first is None or second is None:
            oov += 1
            continue
        human.append(score)
        model.append(float(vectors.unit[first] @ vectors.unit[second]))
    rho = float(spearmanr(human, model).statistic) if len(human) > 1 else float("nan")
    rho = None if rho != rho else rho  # NaN (too few pairs, or constant scores) is not valid JSON
    total = len(human) + oov
    return {"spearman": rho, "pairs": len(human), "oov": oov, "oov_ratio": oov / total if total else 0.0}


def similarity_name(path: Path) -> str:
    """``wordsim353`` for ``.../wordsim353.tsv``."""
    return Path(path).name.split(".")[0]


def evaluate_all(vectors: KeyedVectors, analogies: Path | None = None, similarities: list[Path] | None = None) -> dict:
    """The figures ``eval-w2v --json`` prints: ``analogy_accuracy``, ``analogy_seen``, one
    Spearman figure per similarity file, and the details."""
    analogies = analogies or default_analogies()
    similarities = similarities or default_similarities()
    result = evaluate_analogies(vectors, analogies)
    figures: dict = {"analogy_accuracy": result["accuracy"], "analogy_seen": result["seen"],
                     "analogy_correct": result["correct"], "analogy_sections": result["sections"]}
    details = {}
    for path in similarities:
        name = similarity_name(path)
        found = evaluate_similarity(vectors, path)
        figures[name] = found["spearman"]
        details[name] = found
    figures["similarity"] = details
    return figures
