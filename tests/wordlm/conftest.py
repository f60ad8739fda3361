"""Tiny corpora and tiny models so the word LM tests stay fast."""

from __future__ import annotations

import random

import pytest
import torch

#: A tiny model and run: seconds on one thread.
TINY_MODEL = dict(embed_dim=16, hidden=32, embed_dropout=0.0, dropout=0.0)
TINY_TRAIN = dict(seq_len=16, batch_size=8, lr=0.01, warmup_steps=10, seed=3)
TINY_CLI = ["--embed-dim", "16", "--hidden", "32", "--seq-len", "16", "--batch-size", "8", "--lr", "0.01",
            "--precision", "fp32"]


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def grammar_lines(n: int = 600, seed: int = 0) -> list[str]:
    """Documents of 1-3 'subject verb object' sentences: the next word depends on the last
    one, so a language model can do far better than word frequencies (unigram ~20, LM ~5)."""
    rng = random.Random(seed)
    subjects = ["the cat", "a dog", "the man", "my friend", "the film", "this movie"]
    verbs = ["sat on", "looked at", "liked", "hated", "watched", "saw"]
    objects = ["the mat", "a log", "the show", "the ending", "the actors", "the story"]
    return [" . ".join(f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)}"
                       for _ in range(rng.randint(1, 3))) + " ." for _ in range(n)]


@pytest.fixture
def grammar_file(tmp_path):
    path = tmp_path / "reviews.txt"
    path.write_text("\n".join(grammar_lines()) + "\n", encoding="utf-8")
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
