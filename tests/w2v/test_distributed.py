"""Distributed word2vec: torchrun with 2 gloo processes on 127.0.0.1 trains one model; shards
cover the corpus exactly once."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess

import numpy as np

from textlab.data.corpus import iter_corpus_lines
from textlab.store import read_card
from textlab.text import TokenizerOptions
from textlab.w2v import shards
from textlab.distributed import environment_without_torchrun, local_torchrun
from textlab.w2v.corpus import encode_corpus
from textlab.w2v.keyed_vectors import load_keyed_vectors
from textlab.w2v.shards import byte_ranges, iter_shard_lines

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
    assert report["tokens"] == 36000 and report["distributed"]["shard"] == "byte ranges"

    vectors = load_keyed_vectors(output)  # the saved model is what rank 0 reported
    assert hashlib.sha256(vectors.vectors.astype(np.float32).tobytes()).hexdigest() == report["vectors_sha256"]
    card = read_card(output)
    assert card.data["distributed"]["world_size"] == 2 and card.data["distributed"]["backend"] == "gloo"
    single = encode_corpus(corpus, TokenizerOptions(lang="none"), min_count=1)
    assert vectors.words == single.vocab.words  # merged shard counts give the single-pass vocabulary
    assert vectors.analogy("king", "man", "woman", k=1)[0][0] == "queen"
    assert vectors.analogy("prince", "boy", "girl", k=1)[0][0] == "princess"


def _tokens(lines) -> list[str]:
    return [token for line in lines for token in line.split()]


def test_byte_range_shards_cover_the_corpus_once(tmp_path):
    path = write_planted(tmp_path / "planted.txt", sentences=500)
    whole = list(iter_corpus_lines(path))
    for parts in (2, 3, 7):
        ranges = byte_ranges(path, parts)
        assert ranges[0][0] == 0 and ranges[-1][1] == path.stat().st_size
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
        lines = [line for rank in range(parts) for line in iter_shard_lines(path, rank, parts)]
        assert lines == whole  # cuts fall on line starts


def test_one_long_line_is_cut_between_words(tmp_path, monkeypatch):
    monkeypatch.setattr(shards, "SEEK_BYTES", 64)  # no newline nearby: cut after a space (text8)
    words = [f"wörd{i}" for i in range(3000)]
    path = tmp_path / "oneline.txt"
    path.write_text(" ".join(words), encoding="utf-8")
    pieces = [_tokens(iter_shard_lines(path, rank, 3)) for rank in range(3)]
    assert all(pieces) and sum(pieces, []) == words


def test_compressed_corpus_is_split_by_lines(tmp_path):
    path = tmp_path / "planted.txt.gz"
    plain = write_planted(tmp_path / "planted.txt", sentences=101)
    path.write_bytes(gzip.compress(plain.read_bytes()))
    shares = [list(iter_shard_lines(path, rank, 2)) for rank in range(2)]
    assert len(shares[0]) == 51 and len(shares[1]) == 50
    assert sorted(shares[0] + shares[1]) == sorted(iter_corpus_lines(plain))
