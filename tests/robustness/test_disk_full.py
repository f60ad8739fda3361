"""A full disk and a file-size limit while textlab writes: a model save, a checkpoint, the
id-file cache and an export (a dataset download: tests/data/test_download.py). Each failure is
one line ``textlab: error: cannot write <what> to <path>: <the OS's reason>`` with a non-zero
exit; the previous model, checkpoint, cache entry or file stays as it was and loads; no
temporary or partial file is left.

Two ways: :class:`~tests.robustness.faults.FullDisk` (ENOSPC from patched writes, in this
process) and a real limit (``RLIMIT_FSIZE``, what ``ulimit -f`` sets: the kernel's EFBIG) in a
child process that runs this file as a script and reports JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

if not __package__:  # run as a script: the real-limit driver below
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.robustness.answers import refused, succeeded  # noqa: E402
from tests.robustness.faults import FullDisk, file_size_limit, leftovers, snapshot, write_corpus  # noqa: E402

TRAIN = ["--epochs", "1", "--dim", "64", "--min-count", "1", "--lang", "none", "--workers", "1"]
FULL = "No space left on device"


@pytest.fixture
def model(cli, tmp_path):
    """A trained word2vec model (300 x 64: weights of 150 kB) and its corpus."""
    corpus = write_corpus(tmp_path / "corpus.txt")
    out = tmp_path / "models" / "m"
    succeeded(cli("train-w2v", corpus, *TRAIN, "-o", str(out)), "train-w2v")
    return {"corpus": corpus, "out": out}


def test_model_save_on_a_full_disk_keeps_the_previous_model(cli, model):
    out = model["out"]
    before = snapshot(out)
    with FullDisk(out.parent, match=f"*/.{out.name}.*.tmp/*") as disk:  # the new model's files
        result = cli("train-w2v", model["corpus"], *TRAIN, "--seed", "2", "-o", str(out), "--force")
    assert disk.failed
    line = refused(result, "save on a full disk", FULL)
    assert f"cannot write the model to {out}: {FULL}" in line
    assert snapshot(out) == before
    assert leftovers(out.parent) == []
    succeeded(cli("neighbors", "w1", "--model", str(out)), "the previous model still answers")


@pytest.mark.parametrize("part", ["tensors", "structure"])
def test_checkpoint_on_a_full_disk_keeps_the_previous_checkpoint(tmp_path, part):
    """A checkpoint is two files; the disk filling at either leaves the previous one whole."""
    import torch

    from textlab.errors import TextlabError
    from textlab.runtime.checkpoints import load_checkpoint, save_checkpoint

    ckpt = tmp_path / "m.ckpt"
    save_checkpoint(ckpt, {"step": 1, "weights": torch.arange(1000.0)})
    with FullDisk(ckpt, match="*.safetensors*" if part == "tensors" else "*.json*"), \
            pytest.raises(TextlabError, match=f"cannot write the checkpoint to {ckpt}: {FULL}"):
        save_checkpoint(ckpt, {"step": 2, "weights": torch.arange(1000.0) * 2})
    previous = load_checkpoint(ckpt)
    assert previous["step"] == 1 and torch.equal(previous["weights"], torch.arange(1000.0))
    assert leftovers(ckpt) == []


@pytest.mark.parametrize("where", ["spool", "id file"])
def test_id_file_cache_on_a_full_disk(cli, tmp_path, textlab_home, where):
    """Encoding a corpus into the cache fails in one line; the cache keeps what it had and
    nothing half-written; the next run encodes again."""
    ids = textlab_home / "cache" / "ids"
    first = write_corpus(tmp_path / "first.txt", seed=1)
    succeeded(cli("train-w2v", first, *TRAIN, "-o", str(tmp_path / "first")), "first corpus")
    kept = snapshot(ids)
    corpus = write_corpus(tmp_path / "corpus.txt")
    with FullDisk(ids, match=("*/spool-*", "*/#*") if where == "spool" else "*.ids*"):
        result = cli("train-w2v", corpus, *TRAIN, "-o", str(tmp_path / "m"))
    line = refused(result, "encode on a full disk", FULL)
    assert f"cannot write the encoded corpus to {ids}{os.sep}" in line and line.endswith(FULL)
    assert snapshot(ids) == kept and leftovers(ids) == []
    assert not (tmp_path / "m").exists()
    again = cli("train-w2v", corpus, *TRAIN, "-o", str(tmp_path / "m"))
    succeeded(again, "after the disk has room again")
    assert "encoded" in again.stderr
    reuse = cli("train-w2v", first, *TRAIN, "-o", str(tmp_path / "first-again"))
    assert "reusing" in reuse.stderr, reuse.stderr


def test_export_on_a_full_disk_keeps_the_previous_file(cli, model, tmp_path):
    target = tmp_path / "vectors.txt"
    succeeded(cli("export-w2v", str(target), "--model", str(model["out"])), "export")
    before = target.read_bytes()
    with FullDisk(tmp_path, match=f"*/.{target.name}.*"):
        result = cli("export-w2v", str(target), "--model", str(model["out"]), "--binary", "--force")
    line = refused(result, "export on a full disk", FULL)
    assert f"cannot write the vectors to {target}: {FULL}" in line
    assert target.read_bytes() == before
    assert leftovers(tmp_path) == []


# --------------------------------------------------------------------------- a real limit


LIMIT = 96 * 1024  # bytes a file may reach in the limited process (the models' weights are 150 kB)


def test_a_real_file_size_limit(tmp_path):
    """The kernel's EFBIG (``ulimit -f``) at a model save over an existing model, an id-file
    encoding, an export and a checkpoint; each reported by the child process below."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "TEXTLAB_NO_PROGRESS": "1",
           "TEXTLAB_HOME": str(tmp_path / "home"), "MPLCONFIGDIR": str(tmp_path / "mpl")}
    run = subprocess.run([sys.executable, str(Path(__file__).resolve()), str(tmp_path)], capture_output=True,
                         text=True, env=env, timeout=300, cwd=str(tmp_path))
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert sorted(report) == ["checkpoint", "export", "id file", "model"]
    for case, outcome in report.items():
        assert outcome["line"] is not None, (case, "succeeded past the limit")
        assert "File too large" in outcome["line"] and "internal error" not in outcome["line"], (case, outcome)
        assert outcome["names"] in outcome["line"], (case, outcome)
        assert outcome["unchanged"] and outcome["leftovers"] == [], (case, outcome)
    assert report["model"]["previous_loads"]


def real_limit_driver(workspace: Path) -> int:
    """Prepares a model, a cached corpus, an export and a checkpoint without a limit; then
    makes each write again under ``LIMIT``; prints one JSON line: case -> outcome."""
    import torch
    from typer.testing import CliRunner

    from textlab.cli import app
    from textlab.errors import TextlabError
    from textlab.runtime.checkpoints import load_checkpoint, save_checkpoint

    runner = CliRunner()

    def cli(*args):
        return runner.invoke(app, [str(a) for a in args])

    corpus = write_corpus(workspace / "corpus.txt")
    out = workspace / "models" / "m"
    assert cli("train-w2v", corpus, *TRAIN, "-o", out).exit_code == 0  # compiles and caches the kernels too
    target = workspace / "vectors.txt"
    assert cli("export-w2v", target, "--model", out).exit_code == 0
    ckpt = workspace / "m.ckpt"
    save_checkpoint(ckpt, {"step": 1, "weights": torch.zeros(10)})
    big = write_corpus(workspace / "big.txt", lines=3000)  # 60,000 words: an id file of 120 kB
    ids = Path(os.environ["TEXTLAB_HOME"]) / "cache" / "ids"
    before = {"model": snapshot(out), "export": target.read_bytes(), "id file": snapshot(ids)}
    report = {}

    def error_line(result, what):  # the last stderr line of a failed command (the test checks it)
        return None if result.exit_code == 0 else (result.stderr or "").strip().splitlines()[-1]

    with file_size_limit(LIMIT):
        model = cli("train-w2v", corpus, *TRAIN, "--seed", "2", "-o", out, "--force")
        export = cli("export-w2v", target, "--model", out, "--force")
        encode = cli("train-w2v", big, *TRAIN, "-o", workspace / "big")
        try:
            save_checkpoint(ckpt, {"step": 2, "weights": torch.zeros(100_000)})
            checkpoint_line = None
        except TextlabError as exc:
            checkpoint_line = f"textlab: error: {exc}"
        except Exception as exc:  # noqa: BLE001 (reported as the CLI would: a crash)
            checkpoint_line = f"textlab: error: internal error ({type(exc).__name__}: {exc})"
    report["model"] = {"line": error_line(model, "model"), "names": f"cannot write the model to {out}",
                       "unchanged": snapshot(out) == before["model"], "leftovers": leftovers(out.parent),
                       "previous_loads": cli("neighbors", "w1", "--model", out).exit_code == 0}
    report["export"] = {"line": error_line(export, "export"), "names": f"cannot write the vectors to {target}",
                        "unchanged": target.read_bytes() == before["export"], "leftovers": leftovers(workspace)}
    report["id file"] = {"line": error_line(encode, "id file"), "names": f"cannot write the encoded corpus to {ids}",
                         "unchanged": snapshot(ids) == before["id file"], "leftovers": leftovers(ids)}
    previous = load_checkpoint(ckpt)
    report["checkpoint"] = {"line": checkpoint_line, "names": f"cannot write the checkpoint to {ckpt}",
                            "unchanged": previous["step"] == 1 and previous["weights"].numel() == 10,
                            "leftovers": leftovers(ckpt)}
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(real_limit_driver(Path(sys.argv[1])))
