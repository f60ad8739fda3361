"""Atomic writes give outputs the mode a plain open/mkdir would: the umask's, not tempfile's 0600/0700."""

from __future__ import annotations

import os
import stat

import pytest

from textlab.atomic import atomic_directory, atomic_write_text, umask


@pytest.fixture(params=[0o022, 0o027])
def user_umask(request):
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_umask_is_read_without_changing_it(user_umask):
    assert umask() == user_umask
    assert umask() == user_umask and os.umask(user_umask) == user_umask


def test_files_and_directories_get_the_umask_mode(tmp_path, user_umask):
    atomic_write_text(tmp_path / "out.txt", "x")
    assert mode(tmp_path / "out.txt") == 0o666 & ~user_umask
    with atomic_directory(tmp_path / "model") as tmp:
        (tmp / "a").write_text("a")
    assert mode(tmp_path / "model") == 0o777 & ~user_umask


def test_a_replaced_output_keeps_its_mode(tmp_path, user_umask):
    target = tmp_path / "private.txt"
    target.write_text("old")
    target.chmod(0o600)
    atomic_write_text(target, "new")
    assert target.read_text() == "new" and mode(target) == 0o600


def test_exported_vectors_and_saved_models_are_readable_by_others(cli, tmp_path):
    previous = os.umask(0o022)
    try:
        corpus = tmp_path / "corpus.txt"
        corpus.write_text("the king rules the land and the queen rules the sea\n" * 20)
        result = cli("train-w2v", str(corpus), "--epochs", "1", "--min-count", "1", "--dim", "4",
                     "-o", str(tmp_path / "model"))
        assert result.exit_code == 0, result.output
        result = cli("export-w2v", "--model", str(tmp_path / "model"), str(tmp_path / "vectors.bin"))
        assert result.exit_code == 0, result.output
    finally:
        os.umask(previous)
    assert mode(tmp_path / "vectors.bin") == 0o644
    assert mode(tmp_path / "model") == 0o755
    assert all(mode(p) == 0o644 for p in (tmp_path / "model").iterdir())
