"""Tiny corpora and tiny models so the word LM tests stay fast."""

from __future__ import annotations

import random

import pytest

from tests.lm_helpers import StopAfter, _one_thread  # noqa: F401  (shared; the fixture applies here)

#: A tiny model and run: seconds on one thread.
TINY_MODEL = dict(embed_dim=16, hidden=32, embed_dropout=0.0, dropout=0.0)
TINY_TRAIN = dict(seq_len=16, batch_size=8, lr=0.01, warmup_steps=10, seed=3)
TINY_CLI = ["--embed-dim", "16", "--hidden", "32", "--seq-len", "16", "--batch-size", "8", "--lr", "0.01",
            "--precision", "fp32"]


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
