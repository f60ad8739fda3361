"""Inference rounds a batch's rows and steps up to multiples of ``SHAPE_MULTIPLE``, so a long
stdin of ragged batches meets few distinct shapes (oneDNN keeps a primitive per shape: a
scoring worker's memory grew with them). The rounding must not change a probability."""

from __future__ import annotations

import random

import pytest

from textlab.sentiment import predict
from textlab.sentiment.predict import SHAPE_MULTIPLE, Predictor, Router, rounded_rows


def texts(count: int, seed: int) -> list[str]:
    words = "a great film wonderful acting awful plot boring loved it the and story".split()
    rng = random.Random(seed)
    return [" ".join(rng.choice(words) for _ in range(rng.randint(1, 30))) for _ in range(count)]


def shapes_seen(predictor: Predictor) -> list[tuple[int, int]]:
    seen = []
    predictor.model.register_forward_pre_hook(lambda module, args, kwargs: seen.append(tuple(args[0].shape)),
                                              with_kwargs=True)
    return seen


@pytest.mark.parametrize("count", [1, 7, 13, 64])
def test_rounding_the_batch_changes_no_probability(en_model, monkeypatch, count):
    lines = texts(count, seed=count)
    predictor = Predictor(en_model, precision="fp32")
    seen = shapes_seen(predictor)
    rounded = Router({"en": predictor}).probabilities(lines)
    assert all(rows % SHAPE_MULTIPLE == 0 and steps % SHAPE_MULTIPLE == 0 for rows, steps in seen)
    assert seen[0][0] == -(-count // SHAPE_MULTIPLE) * SHAPE_MULTIPLE

    monkeypatch.setattr(predict, "SHAPE_MULTIPLE", 1)
    exact = Predictor(en_model, precision="fp32")
    seen_exact = shapes_seen(exact)
    alone = [Router({"en": exact}).probabilities([line])[0] for line in lines]
    assert seen_exact[0][0] == 1  # really unrounded
    assert rounded == pytest.approx(alone, abs=1e-5)


def test_ragged_batches_meet_few_shapes(en_model):
    predictor = Predictor(en_model, precision="fp32")
    seen = shapes_seen(predictor)
    router = Router({"en": predictor})
    for count in range(1, 65):
        router.probabilities(texts(count, seed=100 + count))
    assert len(set(seen)) <= SHAPE_MULTIPLE * 4  # rows 8..64 x steps 8..32, not one per (rows, steps)
    assert len({rows for rows, _ in seen}) == 8


def test_the_copies_are_the_last_rows_and_the_shortest_text():
    class Item:
        def __init__(self, n):
            self.sequence = [1] * n

    items = [Item(n) for n in (5, 2, 9, 2, 4)]
    padded = rounded_rows(items, 4)
    assert len(padded) == 8 and padded[:5] == items and padded[5:] == [items[1]] * 3
    assert rounded_rows(items[:4], 4) == items[:4] and rounded_rows([], 8) == []
