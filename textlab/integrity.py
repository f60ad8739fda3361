"""Checksums that let a damaged file be refused by name instead of read: the size and SHA-256 of
each file, recorded when it is written and checked before it is used.

A model directory records its files in ``checksums.json`` (written last, inside the atomic
write: :func:`checksums_text`; again whenever its card changes: :func:`refresh_checksums`);
every loader calls
:func:`verify_checksums` before it reads a tensor, whatever framework reads them. A directory
without ``checksums.json`` (a model saved by an older textlab) is read as before. Checkpoints
and id files record theirs inside their own JSON header (:func:`check_file`, :func:`sha256_file`).

Cost: SHA-256 reads the file once (about 1-2 GB/s on one core with the SHA extensions, so a
few milliseconds for the shipped models); a directory already verified by this process, and
unchanged since (sizes, modification times, inodes), is not hashed again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import IO

from textlab.atomic import atomic_write_text
from textlab.errors import DataError

CHECKSUMS_FILE = "checksums.json"
FORMAT = 1
BLOCK = 1 << 20
_verified: dict[str, tuple] = {}  # directory -> the state of its files when this process verified it


def sha256_stream(handle: IO[bytes]) -> str:
    """SHA-256 of what is left to read in a binary stream."""
    digest = hashlib.sha256()
    buffer = bytearray(BLOCK)
    view = memoryview(buffer)
    while got := handle.readinto(buffer):
        digest.update(view[:got])
    return digest.hexdigest()


def sha256_file(path: Path, start: int = 0) -> str:
    """SHA-256 of a file's bytes from ``start`` on."""
    with open(path, "rb") as handle:
        handle.seek(start)
        return sha256_stream(handle)


def file_record(path: Path) -> dict:
    return {"size": os.stat(path).st_size, "sha256": sha256_file(path)}


def check_file(path: Path, size: int, sha256: str, where: str = "") -> None:
    """Raise :class:`DataError` naming ``path`` unless it has ``size`` bytes and ``sha256``
    (``where``: what the figures were recorded for, e.g. "when the model was saved")."""
    path = Path(path)
    when = where or "when it was written"
    try:
        actual = os.stat(path).st_size
    except OSError as exc:
        raise DataError(f"{path} is missing or unreadable ({exc.strerror or exc}); it was recorded {when}") from None
    if actual != size:
        raise DataError(f"{path} is truncated or damaged: {actual:,} bytes, {size:,} recorded {when}")
    try:
        digest = sha256_file(path)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    if digest != sha256:
        raise DataError(f"{path} is damaged: its SHA-256 differs from the one recorded {when}")


def checksums_text(directory: Path) -> str:
    """What ``checksums.json`` holds: the size and SHA-256 of every other file in ``directory``."""
    files = {entry.name: file_record(Path(entry.path)) for entry in sorted(os.scandir(directory), key=lambda e: e.name)
             if entry.is_file(follow_symlinks=False) and entry.name != CHECKSUMS_FILE}
    return json.dumps({"format": FORMAT, "files": files}, indent=1) + "\n"


def refresh_checksums(directory: Path) -> None:
    """Record the files of ``directory`` again after one was rewritten on purpose (its card),
    when it records them at all. The caller verified them before the rewrite."""
    directory = Path(directory)
    if (directory / CHECKSUMS_FILE).exists():
        atomic_write_text(directory / CHECKSUMS_FILE, checksums_text(directory), what="the checksums")


def _listing(directory: Path) -> dict | None:
    path = directory / CHECKSUMS_FILE
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    try:
        listing = json.loads(raw)
        files = listing["files"]
        if listing.get("format") != FORMAT or not isinstance(files, dict) or not all(
                isinstance(n, str) and "/" not in n and n not in ("", ".", "..") and isinstance(r, dict)
                and isinstance(r.get("size"), int) and isinstance(r.get("sha256"), str) for n, r in files.items()):
            raise ValueError("unexpected contents")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"{path} is damaged ({exc}); remove it to load the model unverified") from None
    return files


def _state(directory: Path, names) -> tuple:
    """What changes when a file is rewritten or replaced (a changed state is verified again)."""
    state = []
    for name in (CHECKSUMS_FILE, *sorted(names)):
        try:
            info = os.stat(directory / name)
            state.append((name, info.st_size, info.st_mtime_ns, info.st_ino))
        except OSError:
            state.append((name, None))
    return tuple(state)


def verify_checksums(directory: Path) -> None:
    """Check every file ``checksums.json`` lists in ``directory`` (size first, then SHA-256);
    raise :class:`DataError` naming the first that differs. No ``checksums.json``: nothing to
    check (saved before checksums existed)."""
    directory = Path(directory)
    files = _listing(directory)
    if files is None:
        return
    key = str(directory.resolve())
    state = _state(directory, files)
    if _verified.get(key) == state:
        return
    for name, record in files.items():
        try:
            check_file(directory / name, record["size"], record["sha256"], "when the model was saved")
        except DataError as exc:
            raise DataError(f"{exc} (restore or retrain it; remove {directory / CHECKSUMS_FILE} to load it "
                            "unverified)") from None
    _verified[key] = state
