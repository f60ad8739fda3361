"""Evaluation as gensim does it: analogy accuracy over the most frequent words
(``evaluate_word_analogies(restrict_vocab=30000)``, case-insensitive) and Spearman correlation
on word-pair similarity files (``evaluate_word_pairs``)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Iterable, Sequence

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


def shipped_test_file(name: str) -> Path:
    """A test set shipped with textlab (``corpora/``, see its README for sources and licences)."""
    from importlib import resources

    path = Path(str(resources.files("textlab.corpora").joinpath(name)))
    if not path.is_file():
        raise DataError(f"the test set {name} is missing from this installation ({path})")
    return path


#: Chinese analogies: CA8 (Li et al., ACL 2018; Apache-2.0), morphological and semantic questions.
CA8_FILES = ("ca8_morphological.txt.gz", "ca8_semantic.txt.gz")


def default_analogies(lang: str = "en") -> list[Path]:
    """gensim's ``questions-words.txt`` for English vectors, CA8 for Chinese ones."""
    if lang == "zh":
        return [shipped_test_file(name) for name in CA8_FILES]
    return [gensim_test_file("questions-words.txt")]


def default_similarities(lang: str = "en") -> list[Path]:
    """gensim's ``wordsim353`` and ``simlex999`` for English vectors; none ships for Chinese."""
    if lang == "zh":
        return []
    return [gensim_test_file("wordsim353.tsv"), gensim_test_file("simlex999.txt")]


def _read_lines(path: Path) -> Iterable[tuple[int, str]]:
    from textlab.data.corpus import open_text_streams  # plain or gzip-compressed, errors as DataError

    if Path(path).is_dir():  # a corpus may be a folder; an evaluation set is one file
        raise DataError(f"{path} is a directory; an evaluation set is one file")
    for _name, stream in open_text_streams(Path(path)):
        for number, line in enumerate(stream, start=1):
            yield number, line.rstrip("\n\r")


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
    frequent words; ``total`` counts every question of the file, covered or not."""
    index = _lower_index(vectors, restrict_vocab)
    sections: list[dict] = []
    questions: list[list[int]] = []
    total = 0
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
        total += 1
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
            "seen": len(questions), "total": total, "sections": report}


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
            score = float("nan")
        if not math.isfinite(score):
            raise DataError(f"{path}, line {number}: score {parts[2].strip()!r} is not a finite number")
        first, second = index.get(parts[0].lower()), index.get(parts[1].lower())
        if first is None or second is None:
            oov += 1
            continue
        human.append(score)
        model.append(float(vectors.unit[first] @ vectors.unit[second]))
    constant = len(set(human)) < 2 or len(set(model)) < 2  # no ranking to correlate (scipy would warn)
    rho = None if constant else float(spearmanr(human, model).statistic)  # None: JSON has no NaN
    total = len(human) + oov
    return {"spearman": rho, "pairs": len(human), "oov": oov, "oov_ratio": oov / total if total else 0.0}


def set_name(path: Path) -> str:
    """``wordsim353`` for ``.../wordsim353.tsv``, ``ca8_semantic`` for ``ca8_semantic.txt.gz``."""
    return Path(path).name.split(".")[0]


def _once(paths: Sequence[Path]) -> list[Path]:
    """``paths`` in their order, each file once."""
    first: dict[str, Path] = {}
    for path in paths:
        first.setdefault(os.path.realpath(path), path)
    return list(first.values())


def evaluate_all(vectors: KeyedVectors, analogies: Path | Sequence[Path] | None = None,
                 similarities: Sequence[Path] | None = None, lang: str | None = None) -> dict:
    """The figures ``eval-w2v --json`` prints. Without files, the sets of the vectors'
    language (``lang``, else told from the vocabulary): gensim's for English, CA8 for Chinese.

    A set none of whose questions (pairs) the vocabulary covers does not apply: it is skipped
    and said so in ``skipped``, never counted as zeros. ``analogy_accuracy`` (None when no
    analogy set applies), ``analogy_seen`` and ``analogy_correct`` add up the sets that
    apply; ``analogies`` and ``similarity`` hold each set's details; each similarity set's
    Spearman figure is also a top-level key (None when it cannot be computed). Raises
    :class:`DataError` when no set applies at all."""
    lang = lang or vectors.language
    if analogies is None:
        analogy_paths = default_analogies(lang)
    else:
        analogy_paths = [Path(analogies)] if isinstance(analogies, (str, Path)) else [Path(a) for a in analogies]
    similarity_paths = default_similarities(lang) if similarities is None else [Path(p) for p in similarities]
    # a file named twice (or two paths to one file) is one set, evaluated and counted once
    analogy_paths, similarity_paths = _once(analogy_paths), _once(similarity_paths)
    skipped: list[str] = []
    sets: dict[str, dict] = {}
    sections: list[dict] = []
    for path in analogy_paths:
        name = set_name(path)
        found = evaluate_analogies(vectors, path)
        found["applies"] = found["seen"] > 0
        sets[name] = found
        if found["applies"]:
            sections += [{**row, "set": name} for row in found["sections"] if row["seen"]]
        else:
            skipped.append(f"{name}: 0 of {found['total']:,} questions covered by this vocabulary; skipped")
    applying = [found for found in sets.values() if found["applies"]]
    seen = sum(found["seen"] for found in applying)
    correct = sum(found["correct"] for found in applying)
    figures: dict = {"analogy_accuracy": correct / seen if seen else None, "analogy_seen": seen,
                     "analogy_correct": correct, "analogy_sections": sections, "analogies": sets}
    details = {}
    for path in similarity_paths:
        name = set_name(path)
        found = evaluate_similarity(vectors, path)
        found["applies"] = found["pairs"] > 0
        if not found["applies"]:
            skipped.append(f"{name}: 0 of {found['oov']:,} pairs covered by this vocabulary; skipped")
        figures[name] = found["spearman"]
        details[name] = found
    figures["similarity"] = details
    figures["skipped"] = skipped
    if not applying and not any(found["applies"] for found in details.values()):
        where = f" to {vectors.name}" if vectors.name else ""
        language = {"en": "English", "zh": "Chinese"}.get(lang, lang)
        raise DataError(f"no evaluation set applies{where} ({'; '.join(skipped) or 'no sets given'}); "
                        f"pass --analogies or --similarity files in the vectors' language ({language})")
    return figures


def metrics_for_card(figures: dict) -> dict:
    """What ``eval-w2v --save-metrics`` records on the card: the figures of the sets that apply."""
    metrics: dict = {}
    if figures["analogy_accuracy"] is not None:
        metrics.update(analogy_accuracy=figures["analogy_accuracy"], analogy_seen=figures["analogy_seen"],
                       analogy_sets=[name for name, found in figures["analogies"].items() if found["applies"]])
    for name, detail in figures["similarity"].items():
        if detail["spearman"] is not None:
            metrics[f"spearman_{name}"] = detail["spearman"]
    return metrics
