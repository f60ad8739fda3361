"""CPU inference precision: float32 or bf16 autocast, whichever the first batch measures faster
(bf16 must win by a margin); bf16 scores agree with float32's."""

from __future__ import annotations

import numpy as np
import pytest

from textlab.sentiment.predict import BF16_MARGIN, PROBE_REVIEWS, Predictor, pick_precision
from textlab.sentiment.pretrained import shipped_models

REVIEWS = [
    "A wonderful, moving film with a superb cast and a story that stays with you.",
    "Dull, far too long and badly acted; I nearly walked out.",
    "The best movie I have seen this year.",
    "A complete waste of time and money.",
] * 16  # 64 reviews: one batch past the probe's size


def test_bf16_is_taken_only_when_it_wins_by_the_margin():
    assert pick_precision({"fp32": 1.0, "bf16": 0.5}) == "bf16"
    assert pick_precision({"fp32": 1.0, "bf16": 1.0 / BF16_MARGIN}) == "bf16"
    assert pick_precision({"fp32": 1.0, "bf16": 0.95}) == "fp32"  # a tie keeps float32's exactness
    assert pick_precision({"fp32": 0.5, "bf16": 1.0}) == "fp32"  # emulated bf16 (no avx512_bf16/AMX)


def test_the_first_batch_settles_the_precision_and_bf16_agrees_with_float32():
    path = shipped_models()["en"]
    encoded_by = Predictor(path, precision="fp32")
    encoded = [encoded_by.encode(text) for text in REVIEWS]
    fp32 = np.array(encoded_by.score(encoded))
    bf16 = np.array(Predictor(path, precision="bf16").score(encoded))
    assert np.abs(fp32 - bf16).max() < 0.03 and ((fp32 > 0.5) == (bf16 > 0.5)).all()
    assert ((fp32 > 0.5) == np.tile([True, False, True, False], 16)).all()

    auto = Predictor(path)
    assert auto.precision == "auto"
    small = np.array(auto.score(encoded[: PROBE_REVIEWS - 1]))  # too few to time: float32, still undecided
    assert auto.precision == "auto" and np.array_equal(small, fp32[: PROBE_REVIEWS - 1])
    scored = np.array(auto.score(encoded))
    assert auto.precision in ("fp32", "bf16") and set(auto.probe) == {"fp32", "bf16"}
    assert np.array_equal(scored, fp32 if auto.precision == "fp32" else bf16)


def test_an_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="unknown precision"):
        Predictor(shipped_models()["en"], precision="fp8")
