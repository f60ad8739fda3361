"""Where outputs go: ``--force`` replaces a model, never another directory; a stream (``-``,
``/dev/stdout``, a pipe) is written in place, a symbolic link through; names that mean
something else (``shipped:``, an empty ``-o``) are refused; seeds stay in every generator's range."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

VECTORS = "3 2\nking 1.0 0.5\nqueen 0.9 0.6\nman 0.1 -0.3\n"


@pytest.fixture
def vectors(cli, tmp_path):
    """A tiny imported word2vec model (by path)."""
    source = tmp_path / "source.txt"
    source.write_text(VECTORS)
    result = cli("import-w2v", str(source), "-o", str(tmp_path / "vec"))
    assert result.exit_code == 0, result.output
    return tmp_path / "vec"


def one_error(result, needle: str) -> None:
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("textlab: error: ") and needle in lines[0], result.stderr


def test_force_never_replaces_a_directory_that_is_no_model(cli, tmp_path, vectors, textlab_home):
    precious = tmp_path / "notes"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    for force in ([], ["--force"]):
        result = cli("import-w2v", str(tmp_path / "source.txt"), "-o", str(precious), *force)
        one_error(result, "holds no textlab model")
    assert (precious / "thesis.tex").read_text() == "years of work"
    (textlab_home / "models" / "kept").mkdir(parents=True, exist_ok=True)
    result = cli("import-w2v", str(tmp_path / "source.txt"), "-o", str(textlab_home / "models"), "--force")
    one_error(result, "holds no textlab model")
    assert (textlab_home / "models" / "kept").is_dir()


def test_force_replaces_a_model_and_an_empty_directory(cli, tmp_path, vectors):
    source = tmp_path / "source.txt"
    assert cli("import-w2v", str(source), "-o", str(vectors), "--force").exit_code == 0
    (tmp_path / "empty").mkdir()
    assert cli("import-w2v", str(source), "-o", str(tmp_path / "empty")).exit_code == 1  # exists: needs --force
    assert cli("import-w2v", str(source), "-o", str(tmp_path / "empty"), "--force").exit_code == 0
    assert (tmp_path / "empty" / "config.json").is_file()


def test_the_current_directory_as_output_is_refused_and_leaves_nothing(cli, tmp_path, vectors, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = sorted(os.listdir(tmp_path))
    result = cli("import-w2v", "source.txt", "-o", ".", "--force")
    one_error(result, "holds no textlab model")
    assert sorted(os.listdir(tmp_path)) == before


@pytest.mark.parametrize("name", ["shipped:en", "shipped:mine"])
def test_the_shipped_prefix_is_no_output_name(cli, tmp_path, name, textlab_home):
    (tmp_path / "v.txt").write_text(VECTORS)
    one_error(cli("import-w2v", str(tmp_path / "v.txt"), "-o", name), "the prefix shipped: is reserved")
    assert not (textlab_home / "models" / name).exists()


def test_an_empty_output_name_is_refused(cli, tmp_path):
    (tmp_path / "v.txt").write_text(VECTORS)
    one_error(cli("import-w2v", str(tmp_path / "v.txt"), "-o", ""), "-o ''")


def test_export_to_standard_output_and_through_a_link(cli, tmp_path, vectors):
    result = cli("export-w2v", "--model", str(vectors), "-")
    assert result.exit_code == 0 and result.stdout.splitlines()[0] == "3 2"
    real, link = tmp_path / "real.txt", tmp_path / "link.txt"
    real.write_text("old")
    link.symlink_to(real)
    assert cli("export-w2v", "--model", str(vectors), str(link), "--force").exit_code == 0
    assert link.is_symlink() and real.read_text().splitlines()[0] == "3 2"


def test_export_to_dev_stdout_writes_the_pipe_and_leaves_the_link(vectors):
    """As root, replacing ``/dev/stdout`` by a file would break every later job on the machine."""
    proc = subprocess.run([sys.executable, "-m", "textlab", "export-w2v", "--model", str(vectors), "/dev/stdout"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[:2] == ["3 2", "king 1.0 0.5"]
    assert Path("/dev/stdout").is_symlink() or not Path("/dev/stdout").is_file()


def test_export_into_a_directory_names_it_without_offering_force(cli, tmp_path, vectors):
    (tmp_path / "d").mkdir()
    for force in ([], ["--force"]):
        result = cli("export-w2v", "--model", str(vectors), str(tmp_path / "d"), *force)
        one_error(result, "is a directory")
        assert "--force" not in result.stderr


@pytest.mark.parametrize("command", [
    ["train-w2v", "{corpus}", "--epochs", "1", "--min-count", "1", "--dim", "4", "-o", "{out}"],
    ["train-sentiment", "{corpus}", "--epochs", "1", "-o", "{out}"],
    ["plot-w2v", "--model", "{vectors}", "{out}.png"],
])
@pytest.mark.parametrize("seed", ["-1", str(2**32), "99999999999999999999"])
def test_seeds_outside_every_generators_range_are_refused(cli, tmp_path, vectors, command, seed):
    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat\n" * 5)
    args = [a.format(corpus=corpus, out=tmp_path / "out", vectors=vectors) for a in command]
    result = cli(*args, "--seed", seed)
    assert result.exit_code == 2 and "--seed" in result.stderr and "internal error" not in result.stderr


def test_the_largest_seed_trains(cli, tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat the dog sat on the log\n" * 5)
    result = cli("train-w2v", str(corpus), "--epochs", "1", "--min-count", "1", "--dim", "4", "--seed",
                 str(2**32 - 1), "-o", str(tmp_path / "w"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "w" / "config.json").is_file()


def test_the_datasets_table_is_data_on_stdout(cli):
    result = cli("datasets")
    assert result.exit_code == 0 and "text8" in result.stdout
