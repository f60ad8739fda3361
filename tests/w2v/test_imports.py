"""train-w2v loads only what it uses, checked in real processes: on a CPU the hogwild engine
trains, checkpoints, resumes and saves without ever importing torch (~275 MB and ~1 s); the
device engine, which is torch, still trains and saves there. matplotlib is loaded, at save
time, for one reason: the model's ``curve.png`` (the training loss), written with the weights."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from textlab.runtime.device import cuda_possible
from textlab.store.cards import read_card
from textlab.w2v.keyed_vectors import load_keyed_vectors
from textlab.w2v.model import initial_vectors

from ..cli.test_startup_imports import imported
from .helpers import write_planted

TINY = ["--lang", "none", "--dim", "16", "--window", "3", "--min-count", "1", "--epochs", "2"]


def test_a_cpu_run_trains_and_saves_without_torch(tmp_path, textlab_home):
    corpus = write_planted(tmp_path / "planted.txt", sentences=2000)
    # with the defaults (--engine auto --device auto) on a machine that cannot have CUDA; elsewhere the CPU named
    where = ["--device", "cpu"] if cuda_possible() else []
    got = imported(tmp_path, "train-w2v", str(corpus), *TINY, *where, "-o", "cpu-run")
    assert "torch" not in got and "numba" in got
    assert "matplotlib" in got  # the loss curve, drawn into the model directory
    card = read_card(textlab_home / "models" / "cpu-run")
    assert card.metrics["engine"] == "hogwild" and card.metrics["device"] == "cpu"
    assert (textlab_home / "models" / "cpu-run" / "curve.png").is_file()
    assert len(load_keyed_vectors(textlab_home / "models" / "cpu-run").words) == card.data["vocab_size"]


RESUME = """
import json, sys
from textlab.errors import TrainingInterrupted
from textlab.w2v import plan
from textlab.w2v.config import Word2VecConfig
from textlab.w2v.pipeline import train_word2vec

plan.CHUNK_WORDS = 4000
corpus, output = sys.argv[1], sys.argv[2]
config = Word2VecConfig(dim=16, window=3, min_count=1, epochs=2, lang="none", workers=1, engine="hogwild")
try:
    train_word2vec(corpus, config, output, device="cpu", stop_after_chunks=3)
    raise SystemExit("not interrupted")
except TrainingInterrupted:
    interrupted = "torch" in sys.modules
summary = train_word2vec(corpus, config, output, device="cpu", resume=True)
print(json.dumps({"interrupted_with_torch": interrupted, "resumed_with_torch": "torch" in sys.modules,
                  "words": summary["training_words"]}))
"""


def test_a_hogwild_run_checkpoints_and_resumes_without_torch(tmp_path, textlab_home):
    corpus = write_planted(tmp_path / "planted.txt", sentences=3000)
    output = tmp_path / "resumed"
    result = subprocess.run([sys.executable, "-c", RESUME, str(corpus), str(output)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"interrupted_with_torch": False, "resumed_with_torch": False, "words": report["words"]}
    assert read_card(output).config["epochs"] == 2 and not (tmp_path / "resumed.ckpt").exists()


def test_the_device_engine_still_trains_and_saves_on_the_cpu(tmp_path, textlab_home):
    corpus = write_planted(tmp_path / "planted.txt", sentences=2000)
    got = imported(tmp_path, "train-w2v", str(corpus), *TINY, "--engine", "device", "--device", "cpu", "-o", "dev")
    assert "torch" in got
    card = read_card(textlab_home / "models" / "dev")
    assert card.metrics["engine"] == "device" and card.metrics["device"] == "cpu" and card.metrics["step"] == "eager"
    vectors = load_keyed_vectors(textlab_home / "models" / "dev").vectors
    start = initial_vectors(card.data["vocab_size"], 16, card.config["seed"])
    assert vectors.shape == start.shape and np.isfinite(vectors).all()
    assert float(np.abs(vectors - start).max()) > 0.1  # trained from the numpy start, written back from torch
