"""Evaluation on a labelled set: accuracy, precision/recall/F1 (positive class, and macro F1),
the confusion matrix and the expected calibration error of the probabilities (``ece``, 15
equal-width confidence bins, see :mod:`textlab.sentiment.calibrate`), streamed in batches
(constant memory)."""

from __future__ import annotations

import time
from collections import deque
from typing import Callable, Iterable

import numpy as np

from textlab.data.reviews import ReadStats, iter_reviews


def _batched(pairs: Iterable[tuple[str, int]], size: int):
    texts, labels = [], []
    for text, label in pairs:
        texts.append(text)
        labels.append(label)
        if len(texts) == size:
            yield texts, labels
            texts, labels = [], []
    if texts:
        yield texts, labels


def metrics_from_confusion(confusion: np.ndarray) -> dict:
    """``confusion[true][predicted]`` for labels 0 (negative) and 1 (positive)."""
    tn, fp, fn, tp = (int(x) for x in confusion.ravel())
    n = tn + fp + fn + tp

    def ratio(a: int, b: int) -> float:
        return a / b if b else 0.0

    precision, recall = ratio(tp, tp + fp), ratio(tp, tp + fn)
    f1 = ratio(2 * precision * recall, precision + recall) if precision + recall else 0.0
    neg_precision, neg_recall = ratio(tn, tn + fn), ratio(tn, tn + fp)
    neg_f1 = ratio(2 * neg_precision * neg_recall, neg_precision + neg_recall) if neg_precision + neg_recall else 0.0
    return {
        "n": n, "accuracy": ratio(tp + tn, n), "precision": precision, "recall": recall, "f1": f1,
        "macro_f1": (f1 + neg_f1) / 2,
        "confusion": {"labels": ["negative", "positive"], "rows_true_cols_predicted": [[tn, fp], [fn, tp]]},
    }


def evaluate(router, data: str, split: str = "test", batch_size: int = 256, workers: int | None = None,
             progress: Callable[[int], None] | None = None) -> dict:
    """Score every review of ``data`` (its ``test`` split for aclImdb) and compare with labels.
    ``router`` is a :class:`textlab.sentiment.predict.Router`; scoring runs in parallel processes."""
    from textlab.sentiment.calibrate import CalibrationBins
    from textlab.sentiment.predict import parallel_probabilities

    stats = ReadStats()
    confusion = np.zeros((2, 2), dtype=np.int64)
    calibration = CalibrationBins()
    pending_labels: deque = deque()

    def texts():
        for batch_texts, batch_labels in _batched(iter_reviews(data, split, stats), batch_size):
            pending_labels.append(batch_labels)
            yield batch_texts

    start = time.perf_counter()
    for batch_texts, probabilities in parallel_probabilities(router, texts(), workers=workers):
        labels = pending_labels.popleft()
        for p, label in zip(probabilities, labels):
            predicted = 1 if (p is not None and p >= 0.5) else 0
            confusion[label, predicted] += 1
        answered = [(p, label) for p, label in zip(probabilities, labels) if p is not None]  # blank reviews: no answer
        calibration.add([p for p, _ in answered], [label for _, label in answered])
        if progress is not None:
            progress(len(batch_texts))
    seconds = time.perf_counter() - start
    if stats.warning():
        from textlab.runtime.output import say

        say(stats.warning(), style="yellow")
    result = metrics_from_confusion(confusion)
    result.update({"ece": calibration.ece(), "skipped_rows": stats.skipped, "seconds": round(seconds, 2),
                   "reviews_per_second": round(result["n"] / seconds, 1) if seconds else None})
    return result
