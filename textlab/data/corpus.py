"""Corpus readers: turn a dataset name or a path (text file, .gz, .zip, tar archive, directory)
into a stream of text, read in bounded chunks so that a 100 MB single-line file (text8) never
becomes one Python string.

Decoding is UTF-8 with invalid bytes replaced, a leading BOM dropped and CRLF turned into LF.
"""

from __future__ import annotations

import gzip
import io
import os
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import BinaryIO, Iterator

from textlab.data.archive import is_tar, is_zip
from textlab.data.registry import Dataset, get_dataset, registry
from textlab.errors import DataError

PIECE_CHARS = 1 << 20
CHUNK_BYTES = 1 << 16
_SKIP_NAMES = {"readme", "license", "licence", "imdber.txt", "imdb.vocab", "copying"}
_TEXT_SUFFIXES = {".txt", "", ".text", ".md"}
_SPLIT_AT = " \t\u3000。！？；，.!?;,"


def resolve_corpus(spec: str, download: bool = True) -> Path:
    """A registered dataset name (shipped, cached or downloaded now) or an existing path."""
    dataset = get_dataset(spec)
    if dataset is not None and not Path(spec).exists():
        return dataset_path(dataset, download=download)
    path = Path(spec).expanduser()
    if not path.exists():
        names = ", ".join(sorted(registry()))
        raise DataError(f"no such file or dataset: {spec} (datasets: {names})")
    if not (path.is_dir() or path.is_file()):
        raise DataError(f"{spec} is neither a regular file nor a directory")
    if not os.access(path, os.R_OK):
        raise DataError(f"permission denied: {spec}")
    return path


def dataset_path(dataset: Dataset, download: bool = True) -> Path:
    local = dataset.local_path()
    if local is not None:
        return local
    if not download or not dataset.url:
        raise DataError(f"dataset {dataset.name} is not available locally; run `textlab download {dataset.name}`")
    from textlab.data.download import download_dataset

    return download_dataset(dataset)


def _is_text_member(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    lower = base.lower()
    if not base or base.startswith(".") or lower in _SKIP_NAMES or lower.startswith("urls_"):
        return False
    suffix = os.path.splitext(lower)[1]
    return suffix in _TEXT_SUFFIXES


def _wrap(binary: BinaryIO) -> io.TextIOWrapper:
    return io.TextIOWrapper(binary, encoding="utf-8-sig", errors="replace", newline=None)


class _ForwardOnly(io.RawIOBase):
    """A read-only, non-seekable view of a file object (members of a streamed tar archive)."""

    def __init__(self, handle: BinaryIO):
        self._handle = handle

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._handle.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def open_text_streams(path: Path) -> Iterator[tuple[str, io.TextIOBase]]:
    """Yield ``(name, text stream)`` for every text source in ``path``, in a stable order."""
    path = Path(path)
    try:
        if str(path) == "-":
            yield "<stdin>", _wrap(sys.stdin.buffer)
        elif path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    full = Path(root) / name
                    if _is_text_member(name) and full.is_file():
                        with open(full, "rb") as handle:
                            yield str(full), _wrap(handle)
        elif is_zip(path):
            with zipfile.ZipFile(path) as archive:
                for info in sorted(archive.infolist(), key=lambda i: i.filename):
                    if not info.is_dir() and _is_text_member(info.filename):
                        with archive.open(info) as handle:
                            yield info.filename, _wrap(handle)
        elif is_tar(path):
            with tarfile.open(path, mode="r|*") as archive:
                for member in archive:
                    if member.isfile() and _is_text_member(member.name):
                        handle = archive.extractfile(member)
                        if handle is not None:
                            yield member.name, _wrap(io.BufferedReader(_ForwardOnly(handle), CHUNK_BYTES))
        elif str(path).lower().endswith(".gz"):
            with gzip.open(path, "rb") as handle:
                yield str(path), _wrap(handle)
        else:
            with open(path, "rb") as handle:
                yield str(path), _wrap(handle)
    except IsADirectoryError as exc:
        raise DataError(f"{path} is a directory, expected a file") from exc
    except PermissionError as exc:
        raise DataError(f"permission denied: {exc.filename or path}") from exc
    except FileNotFoundError as exc:
        raise DataError(f"no such file: {exc.filename or path}") from exc
    except (zipfile.BadZipFile, tarfile.TarError, gzip.BadGzipFile, EOFError, zipfile.LargeZipFile) as exc:
        raise DataError(f"{path}: damaged or unreadable archive ({exc})") from exc
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc


def iter_pieces(stream: io.TextIOBase, max_chars: int = PIECE_CHARS) -> Iterator[tuple[str, bool]]:
    """Yield ``(text, ends_line)``: whole lines without their newline, except that a line longer
    than ``max_chars`` comes in several pieces split at a space or punctuation where possible
    (``ends_line`` is False for all but its last piece)."""
    pending = ""
    while True:
        chunk = stream.read(max_chars)
        if not chunk:
            break
        pending += chunk
        lines = pending.split("\n")
        pending = lines.pop()
        for line in lines:
            yield line, True
        while len(pending) > max_chars:
            cut = _split_point(pending, max_chars)
            yield pending[:cut], False
            pending = pending[cut:]
    if pending:
        yield pending, True


def _split_point(text: str, limit: int) -> int:
    window = max(1, limit // 10)
    for position in range(limit, limit - window, -1):
        if text[position - 1] in _SPLIT_AT:
            return position
    return limit


def iter_corpus_pieces(path: Path, max_chars: int = PIECE_CHARS) -> Iterator[tuple[str, bool]]:
    """Pieces of every text source in a corpus; each source ends with a line end."""
    for _name, stream in open_text_streams(path):
        last_ended = True
        for piece, ends in iter_pieces(stream, max_chars):
            last_ended = ends
            yield piece, ends
        if not last_ended:
            yield "", True


def iter_corpus_lines(path: Path, max_chars: int = PIECE_CHARS) -> Iterator[str]:
    """Lines (documents) of a corpus; overlong lines come as several bounded pieces."""
    for piece, _ends in iter_corpus_pieces(path, max_chars):
        if piece:
            yield piece


def iter_corpus_chunks(path: Path, chunk_chars: int = PIECE_CHARS) -> Iterator[str]:
    """The raw text of a corpus in chunks; their concatenation is the whole text (sources are
    joined with a newline)."""
    for _name, stream in open_text_streams(path):
        last = ""
        while True:
            chunk = stream.read(chunk_chars)
            if not chunk:
                break
            last = chunk
            yield chunk
        if last and not last.endswith("\n"):
            yield "\n"


def read_corpus_text(path: Path, max_chars: int | None = None) -> str:
    """The whole text of a (small) corpus as one string, refused past ``max_chars``."""
    parts, total = [], 0
    for chunk in iter_corpus_chunks(path):
        total += len(chunk)
        if max_chars is not None and total > max_chars:
            raise DataError(f"{path} holds more than {max_chars:,} characters")
        parts.append(chunk)
    return "".join(parts)
