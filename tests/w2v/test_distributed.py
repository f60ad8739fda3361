"""Distributed word2vec: torchrun with 2 gloo processes on 127.0.0.1 trains one model from one
shared id file; the ranks' shares cover it exactly once."""

from __future__ import annotations

import hashlib
import json
import subprocess

import numpy as np

from textlab.store.cards import read_card
from textlab.text import TokenizerOptions
from textlab.distributed import environment_without_torchrun, local_torchrun
from textlab.w2v.corpus import encode_corpus
from textlab.w2v.keyed_vectors import load_keyed_vectors

from .helpers import write_planted


def test_torchrun_two_gloo_ranks_train_one_model(tmp_path):
    corpus = write_planted(tmp_path / "planted.txt")
    output = tmp_path / "model"
    env = environment_without_torchrun()
    env.update(OMP_NUM_THREADS="1", TEXTLAB_NO_PROGRESS="1")
    command = local_torchrun(2, "-m", "textlab", "train-w2v", str(corpus), "--lang", "none", "--min-count", "1", "--sample", "0",
               "--dim", "24", "--window", "3", "--epochs", "4", "--batch-size", "64", "--seed", "3",
               "-o", str(output), "--json")
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    reports = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(reports) == 1 and reports[0]["rank"] == 0  # only rank 0 prints
    report = reports[0]
    assert report["ranks_agree"] is True and report["syncs"] == 4
    assert report["tokens"] == 36000 and report["distributed"]["shard"] == "contiguous id-file ranges"

    vectors = load_keyed_vectors(output)  # the saved model is what rank 0 reported
    assert hashlib.sha256(vectors.vectors.astype(np.float32).tobytes()).hexdigest() == report["vectors_sha256"]
    card = read_card(output)
    assert card.data["distributed"]["world_size"] == 2 and card.data["distributed"]["backend"] == "gloo"
    single = encode_corpus(corpus, TokenizerOptions(lang="none"), min_count=1, log=lambda line: None)
    assert single.reused  # rank 0 encoded it into the cache once; every rank read that file
    assert vectors.words == single.vocab.words
    assert vectors.analogy("king", "man", "woman", k=1)[0][0] == "queen"
    assert vectors.analogy("prince", "boy", "girl", k=1)[0][0] == "princess"


def test_rank_shares_cover_the_id_file_once():
    """Contiguous shares of the positions, every rank running the same number of chunks."""
    from types import SimpleNamespace

    from textlab.w2v.config import Word2VecConfig
    from textlab.w2v.plan import make_plan

    corpus = SimpleNamespace(num_positions=1_000_003, num_words=990_000)
    for world in (2, 3, 7):
        plans = [make_plan(corpus, Word2VecConfig(epochs=2), 1, SimpleNamespace(rank=r, world_size=world))
                 for r in range(world)]
        assert plans[0].first == 0 and plans[-1].last == 1_000_003
        assert all(a.last == b.first for a, b in zip(plans, plans[1:]))
        assert len({p.chunks for p in plans}) == 1 and all(p.total_words == 2 * 990_000 for p in plans)
        covered = [p.positions(c)[2:] for p in plans for c in range(p.chunks)]
        assert sum(end - begin for begin, end in covered) == 1_000_003
