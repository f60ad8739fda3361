"""scripts/gpu_check.py runs end to end on a CPU with --quick (the same code paths the GPU run
takes, tiny sizes), so that running it on a GPU is a formality."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "gpu_check.py"


def test_gpu_check_runs_every_part_on_a_cpu(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--quick", "--skip", "tests"],
                          capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    for part in ("w2v", "charlm", "sentiment", "ddp"):
        assert "error" not in report[part], (part, report[part])
    w2v = report["w2v"]
    for arch in ("skipgram", "cbow"):
        for run in ("device", "device-eager", "hogwild"):
            assert w2v[f"{arch}_{run}_cpu"]["words_per_second"] > 0, (arch, run)
        assert w2v[f"{arch}_device_cpu"]["step"] == "compiled" and w2v[f"{arch}_device_cpu"]["compile_seconds"] > 0
        assert w2v[f"{arch}_device-eager_cpu"]["step"] == "eager"
    charlm = report["charlm"]
    assert charlm["rnn_dtype"] in ("float32", "bfloat16") and charlm["steps"] > 0
    # a budget of seconds: on a busy machine only a few steps fit, but any learning beats the uniform guess
    assert charlm["val_loss"] < charlm["uniform_loss"], charlm
    assert report["sentiment"]["inference_reviews_per_second"] > 0 and report["sentiment"]["train_seconds_per_epoch"] > 0
    for trainer in ("train-w2v", "train-charlm"):
        assert report["ddp"][trainer]["exit_code"] == 0, report["ddp"][trainer]
        assert report["ddp"][trainer]["distributed"]["backend"] == "gloo"
