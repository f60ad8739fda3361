"""``$TEXTLAB_HOME`` (the store's ``models/``, the ``cache/``) that cannot be used: missing,
under a regular file, ``models`` or ``cache`` a regular file, or a read-only directory met by a
real unprivileged process. Commands that only read answer from the shipped models as usual;
commands that write into the store or the dataset cache refuse in one line that says where they
tried and how to choose another place; training with ``-o PATH`` still works, the id file then
being encoded into a temporary file (said in one line, removed afterwards).

Root ignores file modes: the in-process cases make the OS refuse with regular files where
directories should be (as tests/robustness/test_permissions.py does); the read-only cases run
this file as a script in a process without privileges (``setpriv`` to nobody under root).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path

import pytest

if not __package__:  # run as a script: the unprivileged driver below
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.robustness.faults import run_unprivileged, write_corpus  # noqa: E402

READS = {
    "neighbors": ["neighbors", "king", "-k", "3"],
    "neighbors-zh": ["neighbors", "国王", "-k", "3"],
    "sentiment": ["sentiment", "a wonderful, moving film"],
    "sentiment-zh": ["sentiment", "这家酒店很干净，服务很好"],
    "generate": ["generate", "--len", "40", "--random-seed", "1"],
    "models": ["models"],
}
TRAIN = ["--epochs", "1", "--dim", "8", "--min-count", "1", "--lang", "none"]
HINT = "set TEXTLAB_HOME to a writable directory"
TEMPORARY = "encoding into a temporary file instead"


def broken_home(tmp_path: Path, how: str) -> Path:
    if how == "missing":
        return tmp_path / "not" / "yet"
    if how == "under a file":
        (tmp_path / "a_file").write_text("x\n")
        return tmp_path / "a_file" / "home"
    home = tmp_path / "home"
    home.mkdir()
    (home / ("models" if how == "models is a file" else "cache")).write_text("x\n")
    return home


def store_refusal(line: str, where: Path) -> bool:
    return str(where) in line and HINT in line


@pytest.fixture(scope="module")
def answers(tmp_path_factory):
    """What the reading commands print with a usable home."""
    from typer.testing import CliRunner

    from textlab.cli import app

    home = tmp_path_factory.mktemp("usable_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TEXTLAB_HOME", str(home))
        runner = CliRunner()
        results = {name: runner.invoke(app, args) for name, args in READS.items()}
    assert all(r.exit_code == 0 for r in results.values()), {n: r.stderr for n, r in results.items()}
    return {name: result.stdout.replace(str(home), "$TEXTLAB_HOME") for name, result in results.items()}


HOMES = ["missing", "under a file", "models is a file", "cache is a file"]


@pytest.mark.parametrize("how", HOMES)
def test_reading_commands_answer_from_the_shipped_models(cli, tmp_path, monkeypatch, answers, how):
    home = broken_home(tmp_path, how)
    monkeypatch.setenv("TEXTLAB_HOME", str(home))
    for name, args in READS.items():
        result = cli(*args)
        assert result.exit_code == 0, (how, name, result.stderr)
        assert result.stdout.replace(str(home), "$TEXTLAB_HOME") == answers[name], (how, name)


@pytest.mark.parametrize("how", HOMES)
def test_writing_commands_say_where_they_tried_and_what_to_do(cli, tmp_path, monkeypatch, how):
    from tests.robustness.answers import refused, succeeded

    home = broken_home(tmp_path, how)
    monkeypatch.setenv("TEXTLAB_HOME", str(home))
    corpus = write_corpus(tmp_path / "corpus.txt", lines=50, words=40)
    into_store = cli("train-w2v", corpus, *TRAIN, "-o", "mine")
    if how in ("missing", "cache is a file"):
        succeeded(into_store, how)
        assert (home / "models" / "mine" / "config.json").is_file()
    else:
        line = refused(into_store, how, "not a directory")
        assert store_refusal(line, home / "models" / "mine"), line
        assert "corpus" not in into_store.stderr  # refused before any work
    elsewhere = cli("train-w2v", corpus, *TRAIN, "-o", str(tmp_path / "out" / "m"))
    succeeded(elsewhere, how)
    assert (TEMPORARY in elsewhere.stderr) == (how in ("under a file", "cache is a file")), elsewhere.stderr
    assert not [p for p in Path(tempfile.gettempdir()).glob("uncached-*.ids")]
    source = tmp_path / "tinyshakespeare.txt"
    shutil.copyfile(Path(__file__).resolve().parents[2] / "corpora" / "tinyshakespeare.txt", source)
    download = cli("download", "tinyshakespeare", "--from", str(source), "--force")
    if how != "under a file":
        succeeded(download, how)
    else:
        line = refused(download, how, "not a directory")
        assert store_refusal(line, home / "datasets"), line


def test_read_only_home_in_an_unprivileged_process(tmp_path):
    """A home directory of mode 0555 and a cache of mode 0555, met by a process the OS refuses."""
    report = run_unprivileged(Path(__file__).resolve(), lambda workspace: {
        **{k: v for k, v in os.environ.items() if k != "TEXTLAB_HOME"}, "MPLCONFIGDIR": str(workspace / "mpl"),
        "NUMBA_CACHE_DIR": str(workspace / "numba"), "TEXTLAB_NO_PROGRESS": "1"})
    for how in ("read-only home", "read-only cache"):
        for name in READS:
            assert report[how][name]["exit_code"] == 0, (how, name, report[how][name])
        store = report[how]["train into the store"]
        elsewhere = report[how]["train elsewhere"]
        assert elsewhere["exit_code"] == 0 and TEMPORARY in elsewhere["stderr"], (how, elsewhere)
        if how == "read-only home":
            assert store["exit_code"] == 1, store
            line = store["stderr"].strip().splitlines()[-1]
            assert "ermission denied" in line and store_refusal(line, Path(report["home"]) / "models" / "mine"), line
        else:
            assert store["exit_code"] == 0, store


def unprivileged_driver(workspace: Path) -> int:
    """Runs the reading commands and two trainings with a read-only home, then with a writable
    home whose cache is read-only; prints one JSON line."""
    from typer.testing import CliRunner

    from textlab.cli import app

    home = workspace / "home"
    home.mkdir()
    probe = workspace / "probe"
    probe.mkdir()
    probe.chmod(stat.S_IRUSR | stat.S_IXUSR)
    if os.access(probe, os.W_OK):
        print("this process is not refused by file modes (a privileged user)")
        return 3
    corpus = write_corpus(workspace / "corpus.txt", lines=50, words=40)
    runner = CliRunner()
    report: dict = {"home": str(home)}
    for how in ("read-only home", "read-only cache"):
        if how == "read-only home":
            home.chmod(stat.S_IRUSR | stat.S_IXUSR)
        else:
            home.chmod(0o700)
            (home / "cache").mkdir()
            (home / "cache").chmod(stat.S_IRUSR | stat.S_IXUSR)
        os.environ["TEXTLAB_HOME"] = str(home)
        outcomes = {name: runner.invoke(app, args) for name, args in READS.items()}
        outcomes["train into the store"] = runner.invoke(app, ["train-w2v", corpus, *TRAIN, "-o", "mine"])
        outcomes["train elsewhere"] = runner.invoke(app, ["train-w2v", corpus, *TRAIN, "-o",
                                                          str(workspace / how.replace(" ", "-"))])
        report[how] = {name: {"exit_code": r.exit_code, "stderr": (r.stderr or "")[-600:]}
                       for name, r in outcomes.items()}
    for path in (home / "cache", home):
        path.chmod(0o700)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(unprivileged_driver(Path(sys.argv[1])))
