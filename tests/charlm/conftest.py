"""Tiny corpora and tiny models so the char LM tests stay fast."""

from __future__ import annotations

import random

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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


class StopAfter:
    """A stop flag that trips after ``n`` polls, like a Ctrl-C between two steps."""

    def __init__(self, n):
        self.polls, self.n, self.signum = 0, n, None

    def __bool__(self):
        self.polls += 1
        if self.polls > self.n:
            self.signum = 2
        return self.signum is not None
