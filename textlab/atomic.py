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


#: The file name that means standard output (``export-w2v --model m -``).
STDOUT = "-"

#: Names of a process's open files (``/dev/stdout`` is whatever the shell connected: a terminal,
#: a pipe, or a file it opened, which is written through, never replaced).
_DESCRIPTORS = ("/dev/stdout", "/dev/stderr", "/dev/fd/", "/proc/self/fd/")

#: What makes a directory a textlab model, the only kind of directory ``--force`` replaces.
MODEL_MARKER = "config.json"


def is_stream(path: Path | str) -> bool:
    """Whether writing ``path`` means writing a stream in place, not replacing a file: ``-``
    (standard output) or an existing character device, pipe or socket (``/dev/stdout``, a FIFO),
    symbolic links followed. Such a target is written directly: there is nothing to keep."""
    if str(path) == STDOUT or str(path).startswith(_DESCRIPTORS):
        return True
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def replace_refusal(path: Path, directory: bool) -> str | None:
    """Why an existing ``path`` may not be replaced even with ``--force`` (None: it may, or it
    does not exist). A directory output (a model) replaces only an empty directory or a textlab
    model (a directory holding ``config.json``), never any other directory; a file output never
    replaces a directory."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    if not directory:
        return "is a directory" if stat.S_ISDIR(mode) else None
    if not stat.S_ISDIR(mode):
        return "exists and is not a directory"
    try:
        empty = not any(os.scandir(path))
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if empty or (Path(path) / MODEL_MARKER).is_file():
        return None
    return f"is a directory that holds no textlab model (no {MODEL_MARKER}); --force replaces only a model"


def check_writable_target(path: Path, force: bool, what: str = "output", hint: str = "",
                          directory: bool = False) -> None:
    """Refuse to overwrite an existing output unless ``force`` is set, and refuse, whatever
    ``force`` says, what an output of its kind may never replace (:func:`replace_refusal`). A
    stream (:func:`is_stream`) is written in place and needs neither."""
    path = Path(path)
    if not directory and is_stream(path):
        return
    why = replace_refusal(path, directory)
    if why:
        raise TextlabError(f"the {what} {path} {why}; give another path")
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
    except BrokenPipeError:  # a reader that stopped reading (| head): the CLI ends quietly
        raise
    except OSError as exc:
        raise TextlabError(cannot_write(what, path, exc)) from exc


@contextlib.contextmanager
def atomic_open(path: Path, mode: str = "wb", encoding: str | None = None, what: str | None = None) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success it is fsynced and renamed over ``path``.
    An OSError on the way (ENOSPC, EFBIG, EROFS, ...) removes the temporary and is raised as
    :class:`TextlabError` naming ``what`` (e.g. "the vectors") and ``path``."""
    if is_stream(path):
        with _refused_writes(what, Path(path)):
            yield from _stream(path, mode, encoding)
        return
    path = _followed(Path(path))
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


def _stream(path: Path | str, mode: str, encoding: str | None) -> Iterator[IO]:
    """Write a stream target in place: standard output (``-``) or the device/pipe ``path``."""
    import sys

    if str(path) == STDOUT:
        handle = sys.stdout.buffer if "b" in mode else sys.stdout
        yield handle
        handle.flush()
        return
    with open(path, mode, encoding=encoding) as handle:
        yield handle


def named(path: Path) -> Path:
    """``path`` with a last component of its own (``.`` and ``..`` made absolute), so that
    the temporaries and the lock beside it get a name."""
    return Path(os.path.abspath(path)) if path.name in ("", ".", "..") else path


def _followed(path: Path) -> Path:
    """The file a symbolic link names (a link is written through, never replaced by a file)."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


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
    path = _followed(named(Path(path)))
    why = replace_refusal(path, directory=True)
    if why:
        raise TextlabError(f"{path} {why}; give another path")
    if path.exists() and not force:
        raise TextlabError(f"{path} already exists; pass --force to overwrite it")
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
