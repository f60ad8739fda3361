"""The id file: a corpus encoded once as word ids, on disk, read back in chunks.

Format (all integers little-endian)::

    bytes 0-7     magic  b"TLIDS01\\n"
    bytes 8-15    H      uint64, length of the JSON header
    H bytes       header UTF-8 JSON: format, dtype ("uint16" | "uint32"), positions, words,
                  sentences, raw_tokens, vocab_size, vocab_bytes, vocab_sha256, ids_offset,
                  separator, max_sentence, key (what the file was encoded from: the corpus
                  file's path, size, modification time and a hash of its first MiB, the
                  tokenizer settings, min count and vocabulary cap), ids_sha256 (the SHA-256
                  of the ids; files from before it are encoded again rather than trusted)
    vocab_bytes   the vocabulary as UTF-8 TSV, ``word<TAB>count`` per line, in id order
    padding       zeros up to ``ids_offset`` (a multiple of 64)
    positions x dtype   the ids; ``separator`` (the dtype's largest value) ends a sentence

uint16 is used when the vocabulary has fewer than 65,535 words, else uint32. Sentences longer
than ``max_sentence`` raw tokens were cut (as gensim's ``LineSentence`` does); words outside
the vocabulary were dropped. The file is written under a temporary name and renamed, so a
complete name always holds a complete file; :func:`open_id_file` still checks the size against
the header and refuses a truncated or foreign file with one line, and :func:`verify_ids` (run
before a cache entry is reused) the ids' SHA-256.

Training reads chunks with ``pread`` into small buffers rather than mapping the file, so that
a process's memory stays that of the vocabulary and one chunk whatever the corpus size (pages
of a mapped file that were read count in the process's resident size until the kernel
reclaims them).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from textlab.errors import DataError
from textlab.integrity import sha256_file
from textlab.text import Vocab

MAGIC = b"TLIDS01\n"
FORMAT = 1
ALIGN = 64
DTYPES = {"uint16": np.dtype("<u2"), "uint32": np.dtype("<u4")}


def dtype_for(vocab_size: int) -> str:
    """The smallest id type that holds ``vocab_size`` ids plus the separator."""
    return "uint16" if vocab_size < np.iinfo(np.uint16).max else "uint32"


def separator_of(dtype: str) -> int:
    return int(np.iinfo(DTYPES[dtype]).max)


def vocab_digest(vocab_tsv: bytes) -> str:
    return hashlib.sha256(vocab_tsv).hexdigest()


def write_header(handle: IO[bytes], header: dict, vocab_tsv: bytes, reserve: int | None = None) -> int:
    """Write magic, header and vocabulary, pad up to the ids and return their offset. The JSON
    is padded with spaces to ``reserve`` bytes (default: its own length), so that a header
    rewritten later with the final counts fits the same place."""
    header = dict(header, format=FORMAT, vocab_bytes=len(vocab_tsv), vocab_sha256=vocab_digest(vocab_tsv))
    length = reserve or len(json.dumps(dict(header, ids_offset=10**18), ensure_ascii=False, sort_keys=True).encode("utf-8"))
    end = len(MAGIC) + 8 + length + len(vocab_tsv)
    header["ids_offset"] = offset = -(-end // ALIGN) * ALIGN
    raw = json.dumps(header, ensure_ascii=False, sort_keys=True).encode("utf-8")
    if len(raw) > length:
        raise ValueError("the id file header outgrew its reserved space")
    handle.write(MAGIC + struct.pack("<Q", length) + raw.ljust(length, b" ") + vocab_tsv + b"\0" * (offset - end))
    return offset


_OPEN_LOCK = threading.Lock()


@dataclass
class IdFile:
    """An opened id file: its header, vocabulary and a reader of position ranges."""

    path: Path
    header: dict
    vocab: Vocab

    @property
    def dtype(self) -> np.dtype:
        return DTYPES[self.header["dtype"]]

    @property
    def separator(self) -> int:
        return int(self.header["separator"])

    @property
    def positions(self) -> int:
        return int(self.header["positions"])

    @property
    def words(self) -> int:
        return int(self.header["words"])

    def read(self, begin: int, end: int) -> np.ndarray:
        """Ids at positions ``[begin, end)`` (separators included), read with ``pread`` (safe to
        share between forked workers: it does not move a file offset)."""
        begin, end = max(0, begin), min(self.positions, end)
        size = self.dtype.itemsize
        data = bytearray(max(0, end - begin) * size)
        if data:
            got = os.preadv(self._fd(), [data], int(self.header["ids_offset"]) + begin * size)
            if got != len(data):
                raise DataError(f"{self.path}: the id file ended early (changed while in use?)")
        return np.frombuffer(data, dtype=self.dtype)

    def _fd(self) -> int:
        """The file's descriptor, opened once. Worker threads ask for it at the same moment: without
        the lock two of them could each open the file, and the handle the other one overwrote would
        be closed (collected) under the first one's read (EBADF, or another file's bytes)."""
        handle = getattr(self, "_handle", None)
        if handle is None:
            with _OPEN_LOCK:
                handle = getattr(self, "_handle", None)
                if handle is None:
                    handle = self._handle = open(self.path, "rb", buffering=0)  # noqa: SIM115 (kept open for reads)
        return handle.fileno()


def read_header(path: Path) -> tuple[dict, bytes]:
    """The header and vocabulary bytes of an id file, after checking magic, size and hash.
    Raises :class:`DataError` with the reason in one line."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            start = handle.read(len(MAGIC) + 8)
            if len(start) < len(MAGIC) + 8 or not start.startswith(MAGIC):
                raise DataError(f"{path} is not a textlab id file (wrong magic)")
            (length,) = struct.unpack("<Q", start[len(MAGIC):])
            if length > 1 << 26:
                raise DataError(f"{path}: implausible id file header length {length}")
            header = json.loads(handle.read(length).decode("utf-8"))
            if not isinstance(header, dict) or header.get("format") != FORMAT or header.get("dtype") not in DTYPES:
                raise DataError(f"{path}: unsupported id file header")
            vocab_tsv = handle.read(int(header["vocab_bytes"]))
            size = os.fstat(handle.fileno()).st_size
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"cannot read the id file {path}: {exc}") from None
    expected = int(header["ids_offset"]) + int(header["positions"]) * DTYPES[header["dtype"]].itemsize
    if size != expected:
        raise DataError(f"{path}: truncated or damaged id file ({size:,} bytes, the header says {expected:,})")
    if vocab_digest(vocab_tsv) != header.get("vocab_sha256"):
        raise DataError(f"{path}: the id file's vocabulary does not match its hash")
    return header, vocab_tsv


def verify_ids(opened: IdFile) -> None:
    """Check the ids against the SHA-256 recorded when the file was encoded (a bit flipped on
    disk leaves the size and the header as they were)."""
    recorded = opened.header.get("ids_sha256")
    if not isinstance(recorded, str):
        raise DataError(f"{opened.path} records no checksum of its ids (encoded by an older textlab)")
    try:
        actual = sha256_file(opened.path, start=int(opened.header["ids_offset"]))
    except OSError as exc:
        raise DataError(f"cannot read the id file {opened.path}: {exc.strerror or exc}") from None
    if actual != recorded:
        raise DataError(f"{opened.path} is damaged: its ids differ from the SHA-256 recorded when it was encoded")


def open_id_file(path: Path) -> IdFile:
    header, vocab_tsv = read_header(path)
    vocab = Vocab.from_tsv(vocab_tsv.decode("utf-8"), where=str(path))
    if len(vocab) != int(header["vocab_size"]):
        raise DataError(f"{path}: the id file's vocabulary has {len(vocab)} words, the header says {header['vocab_size']}")
    return IdFile(Path(path), header, vocab)
