"""One rank's share of a corpus for distributed training.

A plain (uncompressed) text file is cut into ``world_size`` byte ranges, so that no rank reads
the whole corpus: each cut moves forward to just after the next newline, or, when no newline
comes within ``SEEK_BYTES`` (text8 is one 100 MB line), just after the next space. Both are
ASCII bytes, so a cut never splits a UTF-8 character, and every rank computes the same cuts.
Compressed files, archives and directories cannot be entered in the middle: there every rank
streams the corpus and keeps every ``world_size``-th line (piece) only.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Iterator

from textlab.data.archive import is_tar, is_zip
from textlab.data.corpus import iter_corpus_lines, iter_pieces

#: How far a cut looks for a newline before settling for a space.
SEEK_BYTES = 1 << 20


def splittable(path: Path) -> bool:
    """True for a regular, uncompressed text file (one that can be read from a byte offset)."""
    name = str(path).lower()
    return path.is_file() and not (name.endswith((".gz", ".bz2", ".xz")) or is_zip(path) or is_tar(path))


def byte_ranges(path: Path, parts: int) -> list[tuple[int, int]]:
    """``parts`` consecutive ``(begin, end)`` byte ranges covering the file."""
    size = os.path.getsize(path)
    cuts = [0]
    with open(path, "rb") as handle:
        for part in range(1, parts):
            cuts.append(max(cuts[-1], _cut_after(handle, size * part // parts, size)))
    cuts.append(size)
    return list(zip(cuts[:-1], cuts[1:]))


def _cut_after(handle, offset: int, size: int) -> int:
    """The first line start at or after ``offset`` (a word start when the line is too long)."""
    if offset <= 0:
        return 0
    handle.seek(offset - 1)
    window = handle.read(SEEK_BYTES + 1)
    for separator in (b"\n", b" "):
        found = window.find(separator)
        if found >= 0:
            return offset + found
    return min(size, offset - 1 + len(window))


class _ByteRange(io.RawIOBase):
    """A read-only view of bytes ``[begin, end)`` of a file."""

    def __init__(self, path: Path, begin: int, end: int):
        self._handle = open(path, "rb")
        self._handle.seek(begin)
        self._left = end - begin

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._left <= 0:
            return 0
        view = memoryview(buffer)[: min(len(buffer), self._left)]
        got = self._handle.readinto(view)
        self._left -= got
        return got

    def close(self) -> None:
        self._handle.close()
        super().close()


def iter_shard_lines(path: Path, rank: int, world_size: int) -> Iterator[str]:
    """Lines (bounded pieces of overlong lines) of rank ``rank``'s share of the corpus."""
    if world_size == 1:
        yield from iter_corpus_lines(path)
        return
    if splittable(path):
        begin, end = byte_ranges(path, world_size)[rank]
        with io.TextIOWrapper(io.BufferedReader(_ByteRange(path, begin, end)), encoding="utf-8-sig" if begin == 0 else "utf-8",
                              errors="replace", newline=None) as stream:
            for piece, _ends in iter_pieces(stream):
                if piece:
                    yield piece
        return
    for number, line in enumerate(iter_corpus_lines(path)):
        if number % world_size == rank:
            yield line
