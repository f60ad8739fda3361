"""The word2vec interchange formats (the C tool's, as gensim reads and writes them).

Text: a header ``"<count> <dim>\\n"``, then ``"<word> <v1> ... <vdim>\\n"`` per word, values
written with ``str(numpy.float32)`` exactly as gensim's ``save_word2vec_format``.
Binary: the same header, then per word ``"<word> "`` and ``dim`` little-endian float32 (gensim
writes no separator after the vector; the C tool writes a newline: both are read).
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, Sequence

import numpy as np

from textlab.atomic import atomic_open
from textlab.data.archive import compression, open_decompressed
from textlab.data.corpus import DAMAGED
from textlab.errors import DataError

MAX_DIM = 10000
MAX_WORDS = 50_000_000
MAX_WORD_BYTES = 10000


def save_word2vec_format(path: Path, words: Sequence[str], vectors: np.ndarray, binary: bool = False) -> None:
    """Write ``vectors`` atomically; byte-identical to gensim's ``save_word2vec_format``."""
    vectors = np.asarray(vectors, dtype=np.float32)
    with atomic_open(Path(path), "wb", what="the vectors") as out:
        out.write(f"{len(words)} {vectors.shape[1]}\n".encode("utf-8"))
        for word, row in zip(words, vectors):
            if binary:
                out.write(f"{word} ".encode("utf-8") + row.astype("<f4").tobytes())
            else:
                out.write(f"{word} {' '.join(str(value) for value in row)}\n".encode("utf-8"))


def load_word2vec_format(path: Path, binary: bool | None = None) -> tuple[list[str], np.ndarray]:
    """Read a word2vec text or binary file (``binary=None`` guesses from the content), plain or
    compressed with gzip, bzip2 or xz (as gensim reads ``vectors.bin.gz``: the first bytes
    decide). A header that does not match the content, a truncated file or rows of the wrong
    dimension raise :class:`DataError` naming the problem."""
    path = Path(path)
    try:
        compressed = compression(path)
        with open_decompressed(path) as handle:
            count, dim = _read_header(handle, path)
            if binary is None:
                binary = _looks_binary(handle)
            if compressed is None:
                _check_size(path, count, dim, binary)
            rows = _Rows(count, dim, preallocate=compressed is None)
            return (_read_binary if binary else _read_text)(handle, path, rows)
    except DAMAGED as exc:
        raise DataError(f"{path}: damaged {compressed} file ({exc})") from exc
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _check_size(path: Path, count: int, dim: int, binary: bool) -> None:
    """A header may not announce more vectors than the file's bytes can hold (a row takes at
    least ``dim * 4 + 2`` bytes in the binary format, ``2 * dim + 2`` in the text format)."""
    size = path.stat().st_size
    if count * (dim * 4 + 2 if binary else 2 * dim + 2) > size:
        raise DataError(f"{path}: the header announces {count:,} vectors of dimension {dim}, "
                        f"more than the file's {size:,} bytes can hold (truncated file or wrong header?)")


class _Rows:
    """The vectors as they are read: one array of ``count`` rows when the file's size vouched
    for the header, else grown as rows arrive (a compressed file's header cannot be checked
    before it is read, and a wrong one must not allocate what it announces)."""

    def __init__(self, count: int, dim: int, preallocate: bool):
        self.count, self.filled = count, 0
        self.array = np.empty((count if preallocate else min(count, 1 << 16), dim), dtype=np.float32)

    def add(self, values) -> None:
        if self.filled == len(self.array):
            grown = np.empty((min(self.count, 2 * len(self.array)), self.array.shape[1]), dtype=np.float32)
            grown[: self.filled] = self.array
            self.array = grown
        self.array[self.filled] = values
        self.filled += 1

    def vectors(self) -> np.ndarray:
        return self.array[: self.filled]


def _read_header(handle: BinaryIO, path: Path) -> tuple[int, int]:
    line = handle.readline(200)
    parts = line.split()
    try:
        count, dim = (int(p) for p in parts) if len(parts) == 2 else (None, None)
    except ValueError:
        count = dim = None
    if count is None or dim is None:
        raise DataError(f"{path}: not a word2vec file (the first line must be '<count> <dimension>')")
    if count == 0:
        raise DataError(f"{path}: the header announces no vectors ('0 {dim}')")
    if not (1 <= dim <= MAX_DIM) or not (0 <= count <= MAX_WORDS):
        raise DataError(f"{path}: implausible header '{count} {dim}'")
    return count, dim


def _looks_binary(handle: BinaryIO) -> bool:
    position = handle.tell()
    sample = handle.read(4096)
    handle.seek(position)
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start < len(sample) - 4  # a cut multi-byte character at the end is still text
    return b"\x00" in sample


def _read_binary(handle: BinaryIO, path: Path, rows: _Rows) -> tuple[list[str], np.ndarray]:
    words: list[str] = []
    count, dim = rows.count, rows.array.shape[1]
    width = dim * 4
    for row in range(count):
        word = bytearray()
        while True:
            ch = handle.read(1)
            if not ch:
                raise DataError(f"{path}: the file ends after {row:,} of the {count:,} vectors its header announces")
            if ch == b" ":
                break
            if ch != b"\n" or word:
                word += ch
            if len(word) > MAX_WORD_BYTES:
                raise DataError(f"{path}: word {row + 1} is longer than {MAX_WORD_BYTES} bytes (not a binary word2vec file?)")
        data = handle.read(width)
        if len(data) != width:
            raise DataError(f"{path}: the file ends inside vector {row + 1:,} of {count:,} (truncated file)")
        words.append(_decode(word, path, row))
        rows.add(np.frombuffer(data, dtype="<f4"))
    rest = handle.read(1 << 16)
    if rest.strip():
        raise DataError(f"{path}: data follows the {count:,} vectors the header announces (wrong header?)")
    return _checked(words, rows.vectors(), path)


def _read_text(handle: BinaryIO, path: Path, rows: _Rows) -> tuple[list[str], np.ndarray]:
    words: list[str] = []
    count, dim = rows.count, rows.array.shape[1]
    row = 0
    for number, raw in enumerate(handle, start=2):
        parts = raw.rstrip(b"\r\n").rstrip(b" ").split(b" ")
        if parts == [b""]:
            continue
        if row >= count:
            raise DataError(f"{path}, line {number}: more vectors than the {count:,} the header announces")
        if len(parts) != dim + 1:
            raise DataError(f"{path}, line {number}: {len(parts) - 1} values, the header says dimension {dim}")
        try:
            rows.add(np.array(parts[1:], dtype=np.float32))
        except ValueError:
            raise DataError(f"{path}, line {number}: a value is not a number") from None
        words.append(_decode(parts[0], path, row))
        row += 1
    if row != count:
        raise DataError(f"{path}: the file holds {row:,} vectors but its header announces {count:,}")
    return _checked(words, rows.vectors(), path)


def _decode(word: bytes, path: Path, row: int) -> str:
    try:
        return bytes(word).decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{path}: word {row + 1} is not valid UTF-8") from None


def _checked(words: list[str], vectors: np.ndarray, path: Path) -> tuple[list[str], np.ndarray]:
    if len(set(words)) != len(words):
        raise DataError(f"{path}: a word appears twice")
    if not np.isfinite(vectors).all():
        raise DataError(f"{path}: the vectors hold NaN or infinite values")
    return words, vectors
