"""Distributed char LM: torchrun with 2 gloo processes on 127.0.0.1 trains one model with DDP;
Ctrl-C leaves a checkpoint that --resume finishes, and the result is the single-process model."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess

import pytest
import torch

from textlab.charlm.data import CharCodec, load_char_data, unigram_entropy
from textlab.charlm.distributed import check_world_size
from textlab.charlm.saving import load_charlm
from textlab.distributed import environment_without_torchrun, local_torchrun
from textlab.errors import UsageError

FLAGS = ["--hidden", "48", "--layers", "1", "--dropout", "0", "--seq-len", "32", "--batch-size", "8",
         "--epochs", "3", "--lr", "0.01", "--valid-fraction", "0.25", "--precision", "fp32"]


def _torchrun(corpus, output, *extra) -> list[str]:
    return local_torchrun(2, "-m", "textlab", "train-charlm", str(corpus), *FLAGS, "-o", str(output), *extra)


@pytest.fixture
def torchrun_env():
    env = environment_without_torchrun()
    env.update(OMP_NUM_THREADS="1", TEXTLAB_NO_PROGRESS="1")
    return env


@pytest.fixture
def corpus(tmp_path, repetitive_text):
    path = tmp_path / "tiny.txt"
    path.write_text(repetitive_text * 3, encoding="utf-8")  # 40k characters, 10k held out (2 eval streams)
    return path


def test_sigint_checkpoint_resume_gives_the_single_process_model(tmp_path, cli, corpus, torchrun_env):
    output = tmp_path / "model"
    job = subprocess.Popen(_torchrun(corpus, output), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=torchrun_env, start_new_session=True)
    seen = []
    try:
        for line in job.stderr:  # Ctrl-C (to the whole group, as a terminal does) once epoch 1 is validated
            seen.append(line)
            if line.startswith("epoch 1.00"):
                os.killpg(job.pid, signal.SIGINT)
                break
        seen.append(job.stderr.read())
        job.wait(timeout=60)
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
    stderr = "".join(seen)
    assert job.returncode != 0, stderr[-3000:]
    assert stderr.count("textlab: error: training interrupted at step") == 1, stderr[-3000:]  # rank 0 speaks
    assert "resume with: torchrun --nproc-per-node 2 -m textlab train-charlm" in stderr
    checkpoint = tmp_path / "model.ckpt"
    assert all((checkpoint / part / "checkpoint.json").is_file() for part in (".", "rank-0", "rank-1"))
    assert not output.exists()

    plain = cli("train-charlm", str(corpus), "--valid-fraction", "0.25", "--resume", "-o", str(output))  # 1 process: refused
    assert plain.exit_code == 2 and "written by 2 torchrun processes" in plain.stderr

    resumed = subprocess.run(_torchrun(corpus, output, "--resume"), capture_output=True, text=True,
                             env=torchrun_env, timeout=120)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    data = load_char_data(str(corpus), 0.25)
    per_epoch = math.ceil((len(data.train) // 8 - 1) / 32)
    step = int(re.search(r"resuming at step (\d+)", resumed.stderr).group(1))
    assert per_epoch <= step < 3 * per_epoch  # stopped after epoch 1, before the end
    assert not checkpoint.exists() and (output / "curve.png").is_file()
    reported = float(re.findall(r"saved .*: val loss ([0-9.]+) nats/char", resumed.stderr)[0])

    model, codec, card = load_charlm(output)
    assert card.data["distributed"] == {"world_size": 2, "backend": "gloo", "streams_per_process": 4}
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert card.metrics["val_loss"] < 0.5 * unigram_entropy(data.train) < math.log(len(data.alphabet))
    assert card.metrics["val_loss"] == pytest.approx(reported, abs=1e-4)

    held_out = tmp_path / "valid.txt"  # what rank 0 reported is what eval-charlm measures
    held_out.write_text(CharCodec(data.alphabet).decode(data.valid), encoding="utf-8")
    measured = cli("eval-charlm", "--model", str(output), str(held_out), "--json")
    assert measured.exit_code == 0, measured.stderr
    assert json.loads(measured.stdout)["loss"] == pytest.approx(card.metrics["val_loss"], rel=1e-5)

    single = cli("train-charlm", str(corpus), *FLAGS, "-o", str(tmp_path / "single"))  # DDP = one process
    assert single.exit_code == 0, single.stderr
    expected = json.loads((tmp_path / "single" / "config.json").read_text())["metrics"]
    assert card.metrics["val_loss"] == pytest.approx(expected["val_loss"], rel=1e-4)
    assert card.metrics["steps"] == expected["steps"] == 3 * per_epoch


def test_resume_needs_the_same_world_size(tmp_path):
    with pytest.raises(UsageError, match="written by 4 processes; resume it under torchrun with 4 processes, not 2"):
        check_world_size({"distributed": {"world_size": 4}}, 2, tmp_path)
    with pytest.raises(UsageError, match="single process"):
        check_world_size({}, 2, tmp_path)
    check_world_size({"distributed": {"world_size": 2}}, 2, tmp_path)
