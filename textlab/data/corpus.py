"""Corpus readers: turn a dataset name or a path (text file, .gz, .zip, tar archive, directory)
into a stream of text, read in bounded chunks so that a 100 MB single-line file (text8) never
becomes one Python string.

Decoding is UTF-8 with invalid bytes replaced, a leading BOM dropped and CRLF turned into LF
(UTF-16 and UTF-32 files with their byte-order mark are decoded as such). A file compressed with
gzip, bzip2 or xz, or a zip archive, is read as such whatever its name.
"""

from __future__ import annotations

import codecs
import gzip
import io
import lzma
import os
import sys
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO, Iterator

from textlab.data.archive import compression, is_tar, is_zip, is_zip_content, open_decompressed, stream_tar
from textlab.data.registry import Dataset, get_dataset, registry
from textlab.errors import DataError

PIECE_CHARS = 1 << 20
CHUNK_BYTES = 1 << 16
_SKIP_NAMES = {"readme", "license", "licence", "imdber.txt", "imdb.vocab", "copying"}
_TEXT_SUFFIXES = {".txt", "", ".text", ".md", ".csv", ".tsv"}  # what a directory or an archive is read for
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
        raise DataError(f"{spec} is neither a regular file nor a directory (a pipe or a device): write it to a file, "
                        "or give it on standard input to tokenize or sentiment (`textlab tokenize - < …`)")
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


#: Byte-order marks that name another encoding than UTF-8 (UTF-32's first: it begins as UTF-16's).
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))


def decoded_text(binary: BinaryIO, newline: str | None = None) -> io.TextIOWrapper:
    """Text (bad bytes become U+FFFD): UTF-8 without a leading byte-order mark, or UTF-16/32 when
    the file begins with theirs (what Windows' Notepad and Excel write as "Unicode"). Not the
    ``utf-8-sig`` codec: a stream of one or two bytes that begin a BOM (``b"\\xef"``) decodes
    to nothing there, where it is one unreadable character, i.e. one line."""
    if not hasattr(binary, "peek"):  # (a test runner's stdin: BytesIO)
        binary = io.BufferedReader(binary)
    head = binary.peek(4)[:4]
    if head[:3] == codecs.BOM_UTF8:
        binary.read(3)
    for bom, encoding in _BOMS:
        if head.startswith(bom):  # the codec reads the mark and the byte order from it
            return io.TextIOWrapper(binary, encoding=encoding, errors="replace", newline=newline)
    return io.TextIOWrapper(binary, encoding="utf-8", errors="replace", newline=newline)


#: What a damaged compressed file or archive raises while it is read.
DAMAGED = (zipfile.BadZipFile, zipfile.LargeZipFile, tarfile.TarError, gzip.BadGzipFile, EOFError, zlib.error,
           lzma.LZMAError)


def _damaged(where, exc: BaseException) -> DataError:
    return DataError(f"{where}: damaged or unreadable archive ({exc})")


class _Checked(io.RawIOBase):
    """A read-only, forward-only view of a decompressing file object (a member of a streamed tar
    archive, a zip member, a .gz file) whose read errors become a one-line :class:`DataError`
    naming ``where``: they surface while the caller reads, outside :func:`open_text_streams`."""

    def __init__(self, handle: BinaryIO, where: str):
        self._handle = handle
        self._where = where

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self._handle.read(len(buffer))
        except (*DAMAGED, OSError) as exc:  # OSError: bz2's "Invalid data stream"
            raise _damaged(self._where, exc) from exc
        buffer[: len(data)] = data
        return len(data)


def checked_reader(handle: BinaryIO, where: str) -> io.BufferedReader:
    """``handle`` (a decompressing file object) read through :class:`_Checked`."""
    return io.BufferedReader(_Checked(handle, where), CHUNK_BYTES)


def _checked(handle: BinaryIO, where: str) -> io.TextIOWrapper:
    return decoded_text(checked_reader(handle, where))


def open_text_streams(path: Path) -> Iterator[tuple[str, io.TextIOBase]]:
    """Yield ``(name, text stream)`` for every text source in ``path``, in a stable order."""
    path = Path(path)
    found = False
    try:
        for source in _text_sources(path):
            found = True
            yield source
    except IsADirectoryError as exc:
        raise DataError(f"{path} is a directory, expected a file") from exc
    except PermissionError as exc:
        raise DataError(f"permission denied: {exc.filename or path}") from exc
    except FileNotFoundError as exc:
        raise DataError(f"no such file: {exc.filename or path}") from exc
    except DAMAGED as exc:
        raise _damaged(path, exc) from exc
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not found and str(path) != "-":
        suffixes = ", ".join(sorted(s for s in _TEXT_SUFFIXES if s))
        raise DataError(f"{path}: no text files in it (textlab reads the files named {suffixes} or without a "
                        "suffix, and skips README, LICENSE and hidden files)")


def _text_sources(path: Path) -> Iterator[tuple[str, io.TextIOBase]]:
    if str(path) == "-":
        if sys.stdin is not None:  # None: started with standard input closed, so no input
            yield "<stdin>", decoded_text(sys.stdin.buffer)
    elif path.is_dir():
        yield from _directory_sources(path)
    elif is_zip(path) or is_zip_content(path):
        yield from _zip_sources(path)
    elif is_tar(path):
        yield from _tar_sources(path)
    elif compression(path):
        with open_decompressed(path) as handle:
            yield str(path), _checked(handle, str(path))
    else:
        with open(path, "rb") as handle:
            yield str(path), decoded_text(handle)


def _directory_sources(path: Path) -> Iterator[tuple[str, io.TextIOBase]]:
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            full = Path(root) / name
            if _is_text_member(name) and full.is_file():
                with open(full, "rb") as handle:
                    yield str(full), decoded_text(handle)


def _zip_sources(path: Path) -> Iterator[tuple[str, io.TextIOBase]]:
    with zipfile.ZipFile(path) as archive:
        for info in sorted(archive.infolist(), key=lambda i: i.filename):
            if not info.is_dir() and _is_text_member(info.filename):
                with archive.open(info) as handle:
                    yield info.filename, _checked(handle, f"{path}: {info.filename}")


def _tar_sources(path: Path) -> Iterator[tuple[str, io.TextIOBase]]:
    with stream_tar(path) as archive:
        for member in archive:
            if member.isfile() and _is_text_member(member.name):
                handle = archive.extractfile(member)
                if handle is not None:
                    yield member.name, _checked(handle, f"{path}: {member.name}")


def iter_pieces(stream: io.TextIOBase, max_chars: int = PIECE_CHARS,
                line_at_a_time: bool = False) -> Iterator[tuple[str, bool]]:
    """Yield ``(text, ends_line)``: whole lines without their newline, except that a line longer
    than ``max_chars`` comes in several pieces split at a space or punctuation where possible
    (``ends_line`` is False for all but its last piece). ``line_at_a_time`` reads line by line
    (for someone typing: a line is yielded as soon as it is entered) instead of in chunks."""
    read = stream.readline if line_at_a_time else stream.read
    pending = ""
    while True:
        chunk = read(max_chars)
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


def iter_corpus_pieces(path: Path, max_chars: int = PIECE_CHARS,
                       line_at_a_time: bool = False) -> Iterator[tuple[str, bool]]:
    """Pieces of every text source in a corpus; each source ends with a line end."""
    for _name, stream in open_text_streams(path):
        last_ended = True
        for piece, ends in iter_pieces(stream, max_chars, line_at_a_time):
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
