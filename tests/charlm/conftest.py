"""Tiny corpora and tiny models so the char LM tests stay fast."""

from __future__ import annotations

import random

import pytest

from tests.lm_helpers import StopAfter, _one_thread  # noqa: F401  (shared; the fixture applies here)


@pytest.fixture
def repetitive_text() -> str:
    """Highly predictable text with a rich unigram distribution (entropy ~2.8 nats)."""
    rng = random.Random(0)
    words = ["the cat sat on the mat", "a dog ate my homework", "quick brown fox jumps"]
    return "\n".join(rng.choice(words) for _ in range(600)) + "\n"


@pytest.fixture
def corpus_file(tmp_path, repetitive_text):
    path = tmp_path / "tiny.txt"
    path.write_text(repetitive_text, encoding="utf-8")
    return path
