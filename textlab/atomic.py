"""Atomic file and directory writes: write to a temporary name beside the target, then rename.

A crash (even ``kill -9``) in the middle leaves the previous file intact and no half-written
file under the final name. Existing outputs are only replaced when the caller says so. A write
the OS refuses (a full disk, a file-size limit, a read-only file system) removes the temporary
and becomes one line, :func:`cannot_write`: ``cannot write the vectors to out.txt: No space
left on device``.

The temporary names are created private (``tempfile``: 0600 files, 0700 directories); before
the rename they get the mode a plain ``open``/``mkdir`` would have given them (0644 and 0755
under the usual umask 022), or keep the mode of the output they replace; so do the files
written into an atomic directory.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import IO, Iterator

from textlab.errors import TextlabError


def cannot_write(what: str | None, path: Path, exc: BaseException) -> str:
    """The one line for a write the OS refused: ``cannot write <what> to <path>: <reason>``."""
    reason = getattr(exc, "strerror", None) or str(exc)
    return f"cannot write {what} to {path}: {reason}" if what else f"cannot write {path}: {reason}"


def check_writable_target(path: Path, force: bool, what: str = "output", hint: str = "") -> None:
    """Refuse to overwrite an existing output unless ``force`` is set."""
    path = Path(path)
    if path.exists() and not force:
        raise TextlabError(f"{what} {path} already exists; pass --force to overwrite it")
    check_writable_parent(path, what, hint)


def check_writable_parent(path: Path, what: str = "output", hint: str = "") -> None:
    """Fail now, not after hours of training, when ``path`` cannot be created: its nearest
    existing ancestor must be a directory this process may write into. ``hint`` (``"; ..."``)
    ends the refusal: how to choose another place."""
    ancestor = Path(path).absolute().parent
    try:
        while not ancestor.exists() and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        usable = ancestor.is_dir()
    except OSError as exc:  # e.g. an ancestor that may not be searched
        raise TextlabError(f"cannot write the {what} to {path}: {exc.strerror or exc}{hint}") from None
    if not usable:
        raise TextlabError(f"cannot write the {what} to {path}: {ancestor} is not a directory{hint}")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise TextlabError(f"cannot write the {what} to {path}: permission denied in {ancestor}{hint}")


def umask() -> int:
    """The process's umask, read without changing it where the system allows (Linux's
    /proc/self/status); elsewhere read once by setting it back at once."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return _umask_by_setting()


@functools.lru_cache(maxsize=1)
def _umask_by_setting() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


def _mode_for(path: Path, directory: bool) -> int:
    """The mode of the output ``path`` replaces, else what the umask gives a new one."""
    try:
        existing = os.stat(path)
        if stat.S_ISDIR(existing.st_mode) == directory:
            return stat.S_IMODE(existing.st_mode)
    except OSError:
        pass
    return (0o777 if directory else 0o666) & ~umask()


def _give_files_the_umask_mode(directory: Path) -> None:
    """Files some writers create private (safetensors: 0600) get the mode ``open`` gives."""
    mode = 0o666 & ~umask()
    for root, _dirs, files in os.walk(directory):
        for name in files:
            full = os.path.join(root, name)
            if not os.path.islink(full):
                os.chmod(full, mode)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _refused_writes(what: str | None, path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise TextlabError(cannot_write(what, path, exc)) from exc


@contextlib.contextmanager
def atomic_open(path: Path, mode: str = "wb", encoding: str | None = None, what: str | None = None) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success it is fsynced and renamed over ``path``.
    An OSError on the way (ENOSPC, EFBIG, EROFS, ...) removes the temporary and is raised as
    :class:`TextlabError` naming ``what`` (e.g. "the vectors") and ``path``."""
    path = Path(path)
    with _refused_writes(what, path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, mode, encoding=encoding, newline="" if "b" not in mode else None) as handle:
                os.fchmod(handle.fileno(), _mode_for(path, directory=False))
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, path)
            _fsync_dir(path.parent)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise


def atomic_write_bytes(path: Path, data: bytes, what: str | None = None) -> None:
    with atomic_open(path, "wb", what=what) as handle:
        handle.write(data)


def atomic_write_text(path: Path, text: str, what: str | None = None) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), what)


@contextlib.contextmanager
def atomic_directory(path: Path, force: bool = False, what: str | None = None) -> Iterator[Path]:
    """Build a directory under a temporary name, then move it into place.

    With ``force`` an existing directory is replaced only after the new one is complete. An
    OSError on the way removes the temporary directory and is raised as :class:`TextlabError`
    naming ``what`` and ``path``.
    """
    path = Path(path)
    if path.exists() and not force:
        raise TextlabError(f"{path} already exists; pass --force to overwrite it")
    if path.exists() and not path.is_dir():
        raise TextlabError(f"{path} exists and is not a directory")
    with _refused_writes(what, path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        with _refused_writes(what, path):
            os.chmod(tmp, _mode_for(path, directory=True))
            yield tmp
            _give_files_the_umask_mode(tmp)
            if path.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
                os.replace(path, old / "previous")
                os.replace(tmp, path)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, path)
            _fsync_dir(path.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
