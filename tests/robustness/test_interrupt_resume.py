"""Real processes: SIGINT/SIGTERM during training saves a checkpoint and exits 130/143 with a
resume hint; ``--resume`` then finishes the run and removes the checkpoint. A signal during the
final save lets the save finish."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest


def _corpus(path, lines=4000):
    """Zipf-distributed words from a 3,000-word vocabulary (so subsampling keeps most of them)."""
    rng = random.Random(0)
    words = [f"w{i}" for i in range(3000)]
    weights = [1.0 / (rank + 1) for rank in range(len(words))]
    path.write_text("\n".join(" ".join(rng.choices(words, weights, k=30)) for _ in range(lines)) + "\n")
    return path


def _reviews(path, n=3000):
    rng = random.Random(0)
    good, bad = ["great wonderful superb moving"], ["awful boring dull terrible"]
    rows = ["label,review"]
    for i in range(n):
        label = i % 2
        words = (good if label else bad)[0].split() + "the film was a and it".split()
        rows.append(f"{label},{' '.join(rng.choice(words) for _ in range(40))}")
    path.write_text("\n".join(rows) + "\n")
    return path


CASES = {
    "train-charlm": (signal.SIGINT, "validation characters",
                     lambda tmp: [str(_corpus(tmp / "c.txt", 2000)), "--hidden", "32", "--layers", "1",
                                  "--seq-len", "16", "--batch-size", "4", "--max-minutes", "0.3"]),
    "train-lm": (signal.SIGINT, "validation tokens",
                 lambda tmp: [str(_corpus(tmp / "c.txt", 2000)), "--embed-dim", "32", "--hidden", "32",
                              "--seq-len", "16", "--batch-size", "4", "--precision", "fp32", "--max-minutes", "0.3"]),
    # 20 epochs (24M words, ~10-20 s): since training stopped importing torch, 4 epochs could end
    # within the 1.5 s the test waits, and the signal then met the save (`textlab: terminated`)
    "train-w2v": (signal.SIGTERM, "training words",
                  lambda tmp: [str(_corpus(tmp / "c.txt", 40000)), "--epochs", "20", "--dim", "32",
                               "--min-count", "1", "--lang", "none"]),
    "train-sentiment": (signal.SIGTERM, "epoch 1:",
                        lambda tmp: [str(_reviews(tmp / "r.csv")), "--lang", "en", "--hidden", "16",
                                     "--embed-dim", "16", "--epochs", "100", "--max-minutes", "0.3"]),
}


def _textlab(args, env):
    return subprocess.Popen([sys.executable, "-m", "textlab", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


@pytest.mark.parametrize("command", sorted(CASES))
def test_signal_saves_checkpoint_and_resume_finishes(tmp_path, command, textlab_home):
    signum, marker, make_args = CASES[command]
    output = tmp_path / "model"
    args = [command, *make_args(tmp_path), "-o", str(output)]
    env = dict(os.environ, TEXTLAB_NO_PROGRESS="1", OMP_NUM_THREADS="1")

    proc = _textlab(args, env)
    seen: list[str] = []
    started = threading.Event()

    def read_stderr():
        for line in proc.stderr:
            seen.append(line)
            if marker in line:
                started.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    assert started.wait(120), "".join(seen)
    time.sleep(1.5)
    proc.send_signal(signum)
    assert proc.wait(timeout=120) == 128 + signum, "".join(seen)
    reader.join(10)
    stderr = "".join(seen)
    assert "Traceback" not in stderr
    assert "--resume" in stderr.strip().splitlines()[-1]
    checkpoint = tmp_path / "model.ckpt"
    assert checkpoint.is_dir() and not output.exists()

    resumed = subprocess.run([sys.executable, "-m", "textlab", *args, "--resume"], capture_output=True,
                             text=True, env=env, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert (output / "config.json").is_file() and (output / "weights.safetensors").is_file()
    assert not checkpoint.exists()


def test_sigterm_before_training_is_a_clean_exit(tmp_path, textlab_home):
    """A signal while the data is still being read: one line, exit 143, nothing half-written."""
    env = dict(os.environ, TEXTLAB_NO_PROGRESS="1")
    proc = _textlab(["train-sentiment", str(_reviews(tmp_path / "r.csv", 20000)), "--lang", "en",
                     "-o", str(tmp_path / "model")], env)
    line = proc.stderr.readline()
    assert "labelled reviews" in line
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 143
    rest = proc.stderr.read()
    assert "Traceback" not in rest and rest.strip().splitlines()[-1].startswith("textlab: ")
    assert not (tmp_path / "model").exists()


# Where each command writes its finished model: a signal sent from inside that call must not
# lose the run (the save goes on to the end, the checkpoint goes, the job ends well).
SAVES = {
    "train-charlm": ("textlab.charlm.saving", "save_charlm"),
    "train-lm": ("textlab.wordlm.saving", "save_wordlm"),
    "train-w2v": ("textlab.w2v.pipeline", "save_word2vec"),
    "train-sentiment": ("textlab.sentiment.train", "finish"),
}

SIGNAL_IN_SAVE = r"""
import importlib, os, signal, sys
module, name = sys.argv[1], sys.argv[2]
owner = importlib.import_module(module)
real = getattr(owner, name)

def signalled(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGTERM)
    return real(*args, **kwargs)

setattr(owner, name, signalled)
sys.argv = ["textlab", *sys.argv[3:]]
from textlab.cli import main
main()
"""


@pytest.mark.parametrize("command", sorted(CASES))
def test_a_signal_during_the_final_save_lets_the_save_finish(tmp_path, command, textlab_home):
    _signum, _marker, make_args = CASES[command]
    args = make_args(tmp_path)
    if command == "train-w2v":
        args[args.index("--epochs") + 1] = "1"
    output = tmp_path / "model"
    env = dict(os.environ, TEXTLAB_NO_PROGRESS="1", OMP_NUM_THREADS="1")
    run = subprocess.run([sys.executable, "-c", SIGNAL_IN_SAVE, *SAVES[command], command, *args, "-o", str(output)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "SIGTERM received:" in run.stderr and "saving the model" in run.stderr
    assert "Traceback" not in run.stderr
    assert (output / "config.json").is_file() and (output / "weights.safetensors").is_file()
    assert not (tmp_path / "model.ckpt").exists()
