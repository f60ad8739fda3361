"""Faults a user's own machine produces, made on purpose for the robustness tests (and the
tiny corpus they train on, :func:`write_corpus`).

* :class:`FullDisk`: the disk fills up. Every write into a matching file fails with ``ENOSPC``
  after writing part of what it was given, as a full file system answers: Python's file objects
  (``open``, ``io.open``, ``os.fdopen``, ``pathlib``, ``tempfile``) and safetensors' Rust
  writer (its torch and numpy front ends), whose real failure is a ``SafetensorError`` naming the OS error (``... I/O error: No
  space left on device (os error 28)``).
* :func:`file_size_limit`: a real limit. ``RLIMIT_FSIZE`` (what ``ulimit -f`` sets) makes the
  kernel refuse writes past the limit with ``EFBIG`` ("File too large"); Python ignores the
  ``SIGXFSZ`` that would otherwise kill the process.
* :func:`run_unprivileged`: file modes that really refuse. Root ignores them, so a test script
  runs as a process without privileges (``setpriv`` to nobody under root).
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import fnmatch
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterator


class FullDisk:
    """``with FullDisk(root, match):`` files opened for writing whose real path matches
    ``match`` (a glob on the whole path, or several) under ``root`` fill the disk: their first
    write stores half of its bytes, then raises ``OSError(code)``. ``failed`` lists the paths
    that did. (An anonymous temporary file, ``tempfile.TemporaryFile``, is ``DIR/#INODE``.)"""

    def __init__(self, root: Path, match: str | tuple[str, ...] = "*", code: int = errno.ENOSPC):
        self.root = os.path.realpath(root)
        self.match = (match,) if isinstance(match, str) else match
        self.code = code
        self.failed: list[str] = []

    def __enter__(self) -> "FullDisk":
        import pytest
        import safetensors.numpy
        import safetensors.torch

        self.patch = pytest.MonkeyPatch()
        real_open = io.open
        for module in (builtins, io):
            self.patch.setattr(module, "open", self._open(real_open))
        for writer in (safetensors.torch, safetensors.numpy):  # the Rust writer behind both
            self.patch.setattr(writer, "save_file", self._save_file(writer.save, real_open))
        return self

    def __exit__(self, *exc_info) -> None:
        self.patch.undo()

    def covers(self, path: str) -> bool:
        path = path.removesuffix(" (deleted)")
        inside = path == self.root or path.startswith(self.root + os.sep)
        return inside and any(fnmatch.fnmatch(path, pattern) for pattern in self.match)

    def error(self, path: str) -> OSError:
        self.failed.append(path)
        return OSError(self.code, os.strerror(self.code))

    def _open(self, real_open):
        disk = self

        def open_(file, mode="r", *args, **kwargs):
            handle = real_open(file, mode, *args, **kwargs)
            if not any(flag in mode for flag in "wax+"):
                return handle
            path = os.readlink(f"/proc/self/fd/{handle.fileno()}")  # what was really opened
            return _Filling(handle, disk, path) if disk.covers(path) else handle

        return open_

    def _save_file(self, serialize, real_open):
        disk = self

        def save_file(tensors, filename, metadata=None):
            from safetensors import SafetensorError

            data = serialize(tensors, metadata=metadata)
            with real_open(filename, "wb") as out:
                path = os.path.realpath(filename)
                if not disk.covers(path):
                    out.write(data)
                    return
                out.write(data[: len(data) // 2])
            disk.error(path)
            raise SafetensorError(f"Error while serializing: I/O error: {os.strerror(disk.code)} "
                                  f"(os error {disk.code})")

        return save_file


class _Filling:
    """A file object on a disk that is full: the first write stores half, then fails."""

    def __init__(self, handle, disk: FullDisk, path: str):
        self._handle, self._disk, self._path = handle, disk, path

    def write(self, data):
        self._handle.write(data[: len(data) // 2])
        raise self._disk.error(self._path)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __iter__(self):
        return iter(self._handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._handle.close()


@contextlib.contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """``ulimit -f``: this process may not write a file beyond ``limit`` bytes (EFBIG)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def leftovers(folder: Path) -> list[str]:
    """Temporary or partial files a failed write left in ``folder`` (recursively)."""
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*")
                  if p.name.endswith((".tmp", ".part", ".old", ".lock", ".copy")) or p.name.startswith("spool-"))


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` and its bytes (to prove nothing saved was changed)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def write_corpus(path: Path, lines: int = 300, words: int = 400, seed: int = 0) -> str:
    """Zipf-like words w0..w{words-1}, 20 a line."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(words)]
    weights = [1.0 / (rank + 1) for rank in range(words)]
    path.write_text("\n".join(" ".join(rng.choices(vocab, weights, k=20)) for _ in range(lines)) + "\n")
    return str(path)


def run_unprivileged(script: Path, env: Callable[[Path], dict]) -> dict:
    """``python SCRIPT WORKSPACE`` as a process the OS refuses by file modes (``setpriv`` to
    nobody when the tests run as root, this user otherwise), in a fresh world-writable workspace
    with the environment ``env(workspace)``; returns the JSON of the last line it prints. Skips
    the test where that cannot be done (root without setpriv; exit code 3: a process that file
    modes do not refuse)."""
    import pytest

    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot drop privileges")
        prefix = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    else:
        prefix = []
    workspace = Path(tempfile.mkdtemp(prefix="textlab-unprivileged-"))  # outside pytest's 0700 tree
    try:
        workspace.chmod(0o777)
        run = subprocess.run([*prefix, sys.executable, str(script), str(workspace)], capture_output=True, text=True,
                             env={**env(workspace), "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
                             timeout=300, cwd=str(workspace))
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    if run.returncode == 3:
        pytest.skip(run.stdout.strip())
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])
