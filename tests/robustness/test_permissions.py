"""Paths the OS refuses: every command that reads an input, loads a model or writes an output
gives one line ``textlab: error: ...`` and a non-zero exit, never a traceback. Outputs are
refused before any training starts.

Root ignores file modes, so three ways of making the OS call fail are used:

* ``file_parent``: a path under a regular file (NotADirectoryError / "is not a directory");
* ``injected``: PermissionError raised by the os/io functions for everything inside one
  directory, as for a real directory with mode 000;
* ``real``: a real process without privileges (``setpriv`` to nobody when the tests run as root,
  the test user otherwise) meets chmod 000 files and directories and a read-only directory; it
  runs this file as a script (``python test_permissions.py WORKSPACE``) and reports JSON.
"""

from __future__ import annotations

import builtins
import io
import json
import os
import shutil
import stat
import sys
from pathlib import Path

# Placeholders: {src} an input file, {srcdir} an input directory, {model} a model directory,
# {dst} a directory to write into, {corpus}/{csv}/{vectors} readable inputs, {w2v}/{lm} models.
READ_CASES = {
    "tokenize": ["tokenize", "{src}"],
    "tokenize-dir": ["tokenize", "{srcdir}"],
    "vocab-build": ["vocab", "build", "{src}", "-o", "{out}/v.tsv", "--min-count", "1"],
    "vocab-build-dir": ["vocab", "build", "{srcdir}", "-o", "{out}/v.tsv", "--min-count", "1"],
    "train-w2v": ["train-w2v", "{src}", "--epochs", "1", "--min-count", "1", "--dim", "8", "-o", "{out}/w2v"],
    "train-charlm": ["train-charlm", "{src}", "--epochs", "1", "--hidden", "8", "--layers", "1", "--seq-len", "8",
                     "--batch-size", "2", "-o", "{out}/lm"],
    "train-sentiment": ["train-sentiment", "{src}", "--epochs", "1", "--hidden", "8", "--embed-dim", "8", "-o", "{out}/sa"],
    "train-sentiment-dir": ["train-sentiment", "{srcdir}", "--epochs", "1", "--hidden", "8", "-o", "{out}/sa"],
    "import-w2v": ["import-w2v", "{src}", "-o", "{out}/imported"],
    "eval-w2v-analogies": ["eval-w2v", "--model", "{w2v}", "--analogies", "{src}"],
    "eval-w2v-similarity": ["eval-w2v", "--model", "{w2v}", "--similarity", "{src}"],
    "eval-charlm": ["eval-charlm", "--model", "{lm}", "{src}"],
    "train-lm": ["train-lm", "{src}", "--epochs", "1", "--embed-dim", "8", "--hidden", "8", "--seq-len", "8",
                 "--batch-size", "2", "--precision", "fp32", "-o", "{out}/wlm"],
    "train-lm-dir": ["train-lm", "{srcdir}", "--epochs", "1", "--precision", "fp32", "-o", "{out}/wlm"],
    "eval-lm": ["eval-lm", "--model", "{wlm}", "{src}"],
    "eval-sentiment": ["eval-sentiment", "{src}"],
    "eval-sentiment-dir": ["eval-sentiment", "{srcdir}"],
}
MODEL_CASES = {
    "neighbors": ["neighbors", "king", "--model", "{model}"],
    "analogy": ["analogy", "king", "man", "woman", "--model", "{model}"],
    "eval-w2v": ["eval-w2v", "--model", "{model}"],
    "export-w2v": ["export-w2v", "--model", "{model}", "{out}/x.txt"],
    "plot-w2v": ["plot-w2v", "--model", "{model}", "-o", "{out}/map.png"],
    "generate": ["generate", "--model", "{model}", "--len", "5"],
    "eval-charlm": ["eval-charlm", "--model", "{model}", "{corpus}"],
    "eval-lm": ["eval-lm", "--model", "{model}", "{corpus}"],
    "sentiment": ["sentiment", "--model", "{model}", "a good film"],
    "eval-sentiment": ["eval-sentiment", "{csv}", "--model", "{model}"],
}
WRITE_CASES = {
    "vocab-build": ["vocab", "build", "{corpus}", "-o", "{dst}/v.tsv", "--min-count", "1"],
    "train-w2v": ["train-w2v", "{corpus}", "--epochs", "1", "--min-count", "1", "--dim", "8", "-o", "{dst}/w2v"],
    "train-charlm": ["train-charlm", "{corpus}", "--epochs", "1", "--hidden", "8", "--layers", "1", "--seq-len", "8",
                     "--batch-size", "2", "-o", "{dst}/lm"],
    "train-sentiment": ["train-sentiment", "{csv}", "--epochs", "1", "--hidden", "8", "--embed-dim", "8",
                        "-o", "{dst}/sa"],
    "train-lm": ["train-lm", "{corpus}", "--epochs", "1", "--embed-dim", "8", "--hidden", "8", "--seq-len", "8",
                 "--batch-size", "2", "--precision", "fp32", "-o", "{dst}/wlm"],
    "import-w2v": ["import-w2v", "{vectors}", "-o", "{dst}/imported"],
    "export-w2v": ["export-w2v", "--model", "{w2v}", "{dst}/x.txt"],
    "plot-w2v": ["plot-w2v", "--model", "{w2v}", "-o", "{dst}/map.png", "--top", "4", "--method", "pca"],
}
CASES = {**{f"read:{k}": v for k, v in READ_CASES.items()}, **{f"model:{k}": v for k, v in MODEL_CASES.items()},
         **{f"write:{k}": v for k, v in WRITE_CASES.items()}}

CORPUS = "the king rules the land and the queen rules the sea\n" * 50
CSV = "label,review\n1,a good film\n0,a bad film\n" * 20
VECTORS = "3 2\nking 0.1 0.2\nqueen 0.3 0.4\nman 0.5 0.6\n"


#: What a refusal of an unusable path says: the reason the OS gave, or that the file or model
#: cannot be read or found there.
REASONS = ("permission denied", "not a directory", "no such file", "read-only file system", "is not readable",
           "no model named")


def problem(result_exit_code: int, stderr: str) -> str | None:
    """None when the result is the refusal in one line that names why the path cannot be
    used; else what is wrong (an internal error, a caught crash, is never a refusal)."""
    if "Traceback" in stderr:
        return "traceback: " + stderr[-600:]
    if result_exit_code == 0:
        return "exit code 0 for a path that cannot be used"
    lines = stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("textlab: error:")]
    if len(errors) != 1 or lines[-1] != errors[0]:
        return "not one error line at the end: " + stderr[-600:]
    if "internal error" in errors[0]:
        return "a crash caught by the CLI: " + errors[0]
    if not any(reason in errors[0].lower() for reason in REASONS):
        return "the error does not say why the path cannot be used: " + errors[0]
    return None


def write_inputs(folder: Path) -> dict[str, str]:
    (folder / "corpus.txt").write_text(CORPUS)
    (folder / "reviews.csv").write_text(CSV)
    (folder / "vectors.txt").write_text(VECTORS)
    return {"corpus": str(folder / "corpus.txt"), "csv": str(folder / "reviews.csv"),
            "vectors": str(folder / "vectors.txt"), "out": str(folder / "out")}


def train_tiny_models(invoke, folder: Path) -> dict[str, str]:
    """A tiny word2vec, char LM and word LM, through the CLI."""
    corpus = str(folder / "corpus.txt")
    w2v = invoke("train-w2v", corpus, "--epochs", "1", "--min-count", "1", "--dim", "8", "-o", str(folder / "w2v"))
    assert w2v.exit_code == 0, w2v.output
    lm = invoke("train-charlm", corpus, "--epochs", "1", "--hidden", "8", "--layers", "1", "--seq-len", "8",
                "--batch-size", "2", "-o", str(folder / "lm"))
    assert lm.exit_code == 0, lm.output
    wlm = invoke("train-lm", corpus, "--epochs", "1", "--embed-dim", "8", "--hidden", "8", "--seq-len", "8",
                 "--batch-size", "2", "--precision", "fp32", "-o", str(folder / "wlm"))
    assert wlm.exit_code == 0, wlm.output
    return {"w2v": str(folder / "w2v"), "lm": str(folder / "lm"), "wlm": str(folder / "wlm")}


def fill(template: list[str], values: dict[str, str]) -> list[str]:
    return [part.format(**values) for part in template]


# --------------------------------------------------------------------------- in-process: pytest

try:
    import pytest
except ImportError:  # the real-permission driver below runs without pytest too
    pytest = None

if pytest is not None:
    from tests.robustness.faults import run_unprivileged

    @pytest.fixture(scope="module")
    def workspace(tmp_path_factory):
        from typer.testing import CliRunner

        from textlab.cli import app

        folder = tmp_path_factory.mktemp("perm")
        values = write_inputs(folder)
        runner = CliRunner()
        values.update(train_tiny_models(lambda *args: runner.invoke(app, list(args)), folder))
        return values

    class Denied:
        """PermissionError from the os/io functions for everything inside ``root`` (and for
        listing or opening ``root`` itself), as the OS does for a directory with mode 000."""

        def __init__(self, root: Path, monkeypatch):
            self.root = os.path.abspath(root)
            for module, name in ((builtins, "open"), (io, "open"), (os, "open"), (os, "stat"), (os, "lstat"),
                                 (os, "mkdir"), (os, "listdir"), (os, "scandir"), (os, "rename"), (os, "replace")):
                monkeypatch.setattr(module, name, self._wrap(getattr(module, name), name))
            real_access = os.access
            monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if self._inside(p, mode != os.F_OK)
                                else real_access(p, mode, **kw))

        def _inside(self, path, including_root: bool) -> bool:
            if isinstance(path, int):
                return False
            try:
                path = os.path.abspath(os.fsdecode(os.fspath(path)))
            except TypeError:
                return False
            return path.startswith(self.root + os.sep) or (including_root and path == self.root)

        def _wrap(self, real, name):
            def denied(*args, **kwargs):
                paths = args[:2] if name in ("rename", "replace") else args[:1]
                if not paths and name in ("listdir", "scandir"):
                    paths = (".",)
                for path in paths:
                    if self._inside(path, name not in ("stat", "lstat")):
                        raise PermissionError(13, "Permission denied", os.fsdecode(os.fspath(path)))
                return real(*args, **kwargs)

            return denied

    def _denied_values(mechanism: str, tmp_path: Path, workspace: dict, monkeypatch) -> dict[str, str]:
        if mechanism == "file_parent":
            blocker = tmp_path / "a_file"
            blocker.write_text("not a directory\n")
            return {**workspace, "src": str(blocker / "corpus.txt"), "srcdir": str(blocker / "reviews"),
                    "model": str(blocker / "model"), "dst": str(blocker / "out")}
        locked = tmp_path / "locked"
        (locked / "reviews").mkdir(parents=True)
        (locked / "corpus.txt").write_text(CORPUS)
        (locked / "reviews" / "a.txt").write_text(CORPUS)
        shutil.copytree(workspace["w2v"], locked / "model")
        Denied(locked, monkeypatch)
        return {**workspace, "src": str(locked / "corpus.txt"), "srcdir": str(locked / "reviews"),
                "model": str(locked / "model"), "dst": str(locked)}

    @pytest.mark.parametrize("mechanism", ["file_parent", "injected"])
    @pytest.mark.parametrize("case", sorted(CASES))
    def test_refused_path_is_one_line(cli, tmp_path, workspace, monkeypatch, mechanism, case):
        values = _denied_values(mechanism, tmp_path, workspace, monkeypatch)
        result = cli(*fill(CASES[case], values))
        monkeypatch.undo()
        assert problem(result.exit_code, result.stderr or "") is None, (case, problem(result.exit_code, result.stderr))
        if case.startswith("write:"):
            assert "corpus" not in result.stderr and "epoch" not in result.stderr  # refused before any work

    def test_unwritable_store_is_one_line(cli, tmp_path, workspace, monkeypatch):
        """``-o NAME`` goes under $TEXTLAB_HOME/models; an unusable store is refused up front."""
        blocker = tmp_path / "home_is_a_file"
        blocker.write_text("x")
        monkeypatch.setenv("TEXTLAB_HOME", str(blocker))
        result = cli("train-w2v", workspace["corpus"], "--epochs", "1", "--min-count", "1", "--dim", "8", "-o", "mine")
        assert problem(result.exit_code, result.stderr) is None, result.stderr
        assert "is not a directory" in result.stderr

    def test_real_permissions_in_an_unprivileged_process(tmp_path):
        """chmod 000 / read-only directories met by a process that the OS really refuses."""
        report = run_unprivileged(Path(__file__).resolve(), lambda workspace: {
            **os.environ, "TEXTLAB_HOME": str(workspace / "home"), "MPLCONFIGDIR": str(workspace / "mpl"),
            "TEXTLAB_NO_PROGRESS": "1"})
        failures = {case: outcome["problem"] for case, outcome in report.items() if outcome["problem"]}
        assert not failures, failures
        assert len(report) == len(CASES)
        assert any("ermission denied" in outcome["stderr"] for outcome in report.values())


# --------------------------------------------------------------------------- real: the driver


def real_permission_driver(workspace: Path) -> int:
    """Runs every case as this (unprivileged) process; prints one JSON line: case -> outcome."""
    from typer.testing import CliRunner

    from textlab.cli import app

    folder = workspace / "files"
    folder.mkdir()
    values = write_inputs(folder)
    runner = CliRunner()
    values.update(train_tiny_models(lambda *args: runner.invoke(app, list(args)), folder))
    locked_file = folder / "locked.txt"
    locked_file.write_text(CORPUS)
    locked_dir = folder / "locked_dir"
    locked_dir.mkdir()
    (locked_dir / "a.txt").write_text(CORPUS)
    locked_model = folder / "locked_model"
    shutil.copytree(values["w2v"], locked_model)
    read_only = folder / "read_only"
    read_only.mkdir()
    for path in (locked_file, locked_dir, locked_model):
        path.chmod(0)
    read_only.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        open(locked_file).close()
    except PermissionError:
        pass
    else:
        print("this process is not refused by file modes (a privileged user)")
        return 3
    values.update(src=str(locked_file), srcdir=str(locked_dir), model=str(locked_model), dst=str(read_only))
    report = {}
    for case, template in CASES.items():
        result = runner.invoke(app, fill(template, values))
        report[case] = {"exit_code": result.exit_code, "stderr": (result.stderr or "")[-300:],
                        "problem": problem(result.exit_code, result.stderr or "")}
    for path in (locked_file, locked_dir, locked_model, read_only):
        path.chmod(0o700)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(real_permission_driver(Path(sys.argv[1])))
