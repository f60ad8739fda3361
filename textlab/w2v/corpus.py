"""A corpus encoded once into an id file (see :mod:`textlab.w2v.idfile`) and reused.

Encoding streams the corpus through the tokenizer once. Each token gets a provisional id (one
dict entry per distinct word) and the provisional ids are spooled to a temporary file with a
marker at each sentence end; then the vocabulary is pruned and the spool is remapped piece by
piece into the id file. Memory is the vocabulary plus one piece, whatever the corpus size.

The id file lives in the cache (``$TEXTLAB_HOME/cache/ids``) under a key made of the corpus
file's identity (path, size, modification time, hash of its first MiB) and the settings that
shape the ids (tokenizer, min count, vocabulary cap, sentence cut). The next run with the same
key reuses it and says so, after checking the SHA-256 of its ids recorded when it was encoded
(reading the file once: milliseconds for text8's 34 MB); a changed corpus or setting gets a new
key; a damaged or foreign file under a key is refused in one line and encoded again. Two jobs
that encode the same key at once take turns (:func:`textlab.reservation.taking_turns`): the
second waits, says so, and reuses the first one's file. A cache that cannot be written (a
read-only ``$TEXTLAB_HOME``) is said once, and the corpus encoded into a temporary file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import tempfile
import time
from array import array
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from textlab.atomic import cannot_write
from textlab.errors import DataError, TextlabError, UsageError
from textlab.reservation import taking_turns
from textlab.runtime.output import say
from textlab.runtime.progress import ProgressBar
from textlab.text import TokenizerOptions, Vocab, tokenize_stream
from textlab.w2v import idfile
from textlab.w2v.idfile import IdFile

#: Longest sentence fed to the window (gensim's MAX_WORDS_IN_BATCH); longer lines are cut.
MAX_SENTENCE = 10000
#: Provisional ids per spool write and per remapped piece (bounds the temporaries).
PIECE_TOKENS = 1 << 18
#: Bytes of the corpus file hashed into the cache key.
HEAD_BYTES = 1 << 20
_SPOOL_END = -1  # sentence end in the spool


@dataclass
class EncodedCorpus:
    """A corpus as an id file: ``read(begin, end)`` gives ids at positions (a separator ends
    each sentence); ``num_words`` counts the words (positions minus separators)."""

    file: IdFile
    raw_tokens: int  # corpus tokens before vocabulary pruning
    encode_seconds: float = 0.0  # 0 when the id file was reused
    reused: bool = False
    temporary: bool = False  # not a cache entry: the caller removes the file when done

    @property
    def vocab(self) -> Vocab:
        return self.file.vocab

    @property
    def num_words(self) -> int:
        return self.file.words

    @property
    def num_positions(self) -> int:
        return self.file.positions

    @property
    def separator(self) -> int:
        return self.file.separator

    def read(self, begin: int, end: int) -> np.ndarray:
        return self.file.read(begin, end)

    def words(self) -> np.ndarray:
        """Every word id in order, separators dropped (small corpora and tests only)."""
        ids = self.read(0, self.num_positions)
        return ids[ids != self.separator].astype(np.int64)

    def sentences(self) -> list[list[int]]:
        """The corpus as lists of ids (small corpora and tests only)."""
        ids = self.read(0, self.num_positions).astype(np.int64)
        cuts = np.flatnonzero(ids == self.separator)
        parts = (part[part != self.separator] for part in np.split(ids, cuts + 1))
        return [part.tolist() for part in parts if part.size]


# --------------------------------------------------------------------------- cache keys


def cache_dir() -> Path:
    from textlab.store.places import textlab_home

    return textlab_home() / "cache" / "ids"


def source_identity(path: Path) -> dict:
    """What identifies a corpus's content without reading it all: for a file its size,
    modification time and the SHA-256 of its first MiB; for a directory the same summed over
    its files (names, sizes and times hashed)."""
    path = Path(path).resolve()
    if path.is_dir():
        listing = hashlib.sha256()
        files = size = 0
        for root, dirs, names in os.walk(path):
            dirs.sort()
            for name in sorted(names):
                stat = os.stat(os.path.join(root, name))
                listing.update(f"{os.path.relpath(os.path.join(root, name), path)}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
                files, size = files + 1, size + stat.st_size
        return {"path": str(path), "kind": "directory", "files": files, "size": size, "listing_sha256": listing.hexdigest()}
    stat = path.stat()
    with open(path, "rb") as handle:
        head = hashlib.sha256(handle.read(HEAD_BYTES)).hexdigest()
    return {"path": str(path), "kind": "file", "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "head_sha256": head}


def encoding_key(path: Path, options: TokenizerOptions, min_count: int, max_vocab: int | None,
                 vocab: Vocab | None = None) -> dict:
    """Everything the ids depend on (a given vocabulary, as on resume, replaces the pruning)."""
    key = {"format": idfile.FORMAT, "source": source_identity(path), "tokenizer": dataclasses.asdict(options),
           "max_sentence": MAX_SENTENCE}
    if vocab is None:
        key.update(min_count=int(min_count), max_vocab=int(max_vocab or 0))
    else:
        key["vocab_sha256"] = idfile.vocab_digest(vocab.to_tsv().encode("utf-8"))
    return key


def key_name(key: dict) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode("utf-8")).hexdigest()[:32] + ".ids"


# --------------------------------------------------------------------------- encoding


def encode_corpus(path: Path, options: TokenizerOptions, min_count: int = 5, max_vocab: int | None = None,
                  vocab: Vocab | None = None, cache: bool = True, target: Path | None = None,
                  log: Callable[[str], None] | None = None) -> EncodedCorpus:
    """The corpus at ``path`` as an id file: reused from the cache when its key matches, else
    encoded now (into the cache, or into ``target`` / a temporary file with ``cache=False`` or a
    cache that cannot be written: the caller deletes that one, ``temporary``). ``vocab`` fixes
    the vocabulary (resume) instead of building it from counts (no specials, by descending
    count, ties as gensim sorts them)."""
    if min_count < 1:
        raise UsageError("--min-count must be at least 1")
    log = log or say
    key = encoding_key(path, options, min_count, max_vocab, vocab)
    if target is not None:
        if cache:
            raise UsageError("an explicit id file target is never a cache entry")
        return _encode(path, options, target, key, min_count, max_vocab, vocab, log)
    directory = _usable_cache(log if cache else None)
    if directory is None or not cache:
        handle, name = tempfile.mkstemp(prefix="uncached-", suffix=".ids", dir=directory)
        os.close(handle)
        return _encode(path, options, Path(name), key, min_count, max_vocab, vocab, log, temporary=True)
    if vocab is not None:  # resume: the first run's id file serves if its vocabulary is this one
        first_key = encoding_key(path, options, min_count, max_vocab)
        reused = _reuse(directory / key_name(first_key), first_key, log, vocab_sha256=key["vocab_sha256"])
        if reused is not None:
            return reused
    target = directory / key_name(key)
    with taking_turns(target, "waiting for another job encoding the same corpus", log):
        reused = _reuse(target, key, log)
        if reused is not None:
            return reused
        return _encode(path, options, target, key, min_count, max_vocab, vocab, log)


def _usable_cache(log: Callable[[str], None] | None) -> Path | None:
    """The id-file cache, created if needed; None (said with ``log``) when it cannot be written."""
    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        if not os.access(directory, os.W_OK | os.X_OK):
            raise PermissionError(13, "Permission denied")
    except OSError as exc:
        if log is not None:
            log(f"cannot use the id-file cache {directory} ({exc.strerror or exc}); encoding into a temporary file "
                "instead (set TEXTLAB_HOME to a writable directory to keep encodings)")
        return None
    return directory


def _encode(path: Path, options: TokenizerOptions, target: Path, key: dict, min_count: int, max_vocab: int | None,
            vocab: Vocab | None, log: Callable[[str], None], temporary: bool = False) -> EncodedCorpus:
    started = time.perf_counter()
    try:
        try:
            write_id_file(path, options, target, key, min_count, max_vocab, vocab)
        except OSError as exc:  # the spool's (the id file's own are said by atomic_open)
            raise TextlabError(cannot_write("the encoded corpus", target, exc)) from exc
    except BaseException:
        if temporary:
            target.unlink(missing_ok=True)
        raise
    opened = idfile.open_id_file(target)
    seconds = time.perf_counter() - started
    log(f"encoded {path}: {int(opened.header['raw_tokens']):,} tokens -> {opened.words:,} words in "
        f"{seconds:.1f} s; id file {target}")
    return EncodedCorpus(opened, int(opened.header["raw_tokens"]), seconds, temporary=temporary)


def _reuse(target: Path, key: dict | None, log: Callable[[str], None], vocab_sha256: str | None = None) -> EncodedCorpus | None:
    """The cached id file at ``target`` when it was encoded from ``key`` (or holds the vocabulary
    with hash ``vocab_sha256``); a damaged or foreign one is refused in one line (and rebuilt)."""
    if not target.exists():
        return None
    try:
        opened = idfile.open_id_file(target)
        if key is not None and opened.header.get("key") != key:
            raise DataError(f"{target} was encoded from something else")
        if vocab_sha256 is not None and opened.header.get("vocab_sha256") != vocab_sha256:
            return None
        idfile.verify_ids(opened)
    except DataError as exc:
        log(f"refusing the cached id file: {exc}; encoding the corpus again")
        return None
    log(f"reusing the encoded corpus {target} ({opened.words:,} words; encoding skipped)")
    return EncodedCorpus(opened, int(opened.header["raw_tokens"]), 0.0, reused=True)


def write_id_file(path: Path, options: TokenizerOptions, target: Path, key: dict, min_count: int,
                  max_vocab: int | None, vocab: Vocab | None) -> None:
    """Tokenize once into a spool of provisional ids, prune, remap into ``target`` (atomically)."""
    from textlab.atomic import atomic_open

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=target.parent, prefix="spool-") as spool:
        words, tokens = _spool_provisional_ids(path, options, spool)
        if tokens == 0:
            raise DataError(f"{path}: the corpus has no words")
        counts = np.zeros(len(words), dtype=np.int64)
        for piece in _spool_pieces(spool):
            counts += np.bincount(piece[piece >= 0], minlength=len(words))
        if vocab is None:
            vocab = _build_vocab(words, counts, min_count, max_vocab)
            if len(vocab) < 2:
                limit = "raise --max-vocab" if max_vocab is not None and max_vocab < 2 else "lower --min-count"
                raise DataError(f"{path}: fewer than 2 words occur at least {min_count} times and fit the vocabulary; {limit}")
        # provisional id -> final id (-1: dropped); the last slot maps the sentence-end marker
        table = np.array([vocab.index.get(w, -1) for w in words] + [-2], dtype=np.int32)
        del words
        dtype = idfile.dtype_for(len(vocab))
        separator = idfile.separator_of(dtype)
        vocab_tsv = vocab.to_tsv().encode("utf-8")
        header = {"dtype": dtype, "separator": separator, "max_sentence": MAX_SENTENCE, "raw_tokens": int(tokens),
                  "vocab_size": len(vocab), "key": key, "positions": 0, "words": 0, "sentences": 0,
                  "ids_sha256": "0" * 64}
        ids_digest = hashlib.sha256()
        with atomic_open(target, "wb", what="the encoded corpus") as out:
            bound = dict(header, positions=2 * tokens + 1, words=tokens + 1, sentences=tokens + 1)
            reserve = len(json.dumps(bound, ensure_ascii=False, sort_keys=True).encode("utf-8")) + 256
            offset = idfile.write_header(out, bound, vocab_tsv, reserve=reserve)
            positions = words_kept = sentences = 0
            last_was_end = True  # drops empty sentences and a leading marker
            for piece in _spool_pieces(spool):
                piece[piece < 0] = len(table) - 1  # the marker's slot (the piece's buffer is reused anyway)
                mapped = table[piece]
                mapped = mapped[mapped != -1]
                ends = mapped == -2
                keep = ~(ends & np.concatenate([[last_was_end], ends[:-1]]))
                mapped, ends = mapped[keep], ends[keep]
                if mapped.size:
                    last_was_end = bool(ends[-1])
                    ids = np.where(ends, separator, mapped).astype(idfile.DTYPES[dtype]).tobytes()
                    out.write(ids)
                    ids_digest.update(ids)
                    positions += mapped.size
                    sentences += int(ends.sum())
                    words_kept += int(mapped.size - ends.sum())
            if words_kept == 0:
                raise DataError(f"{path}: no word of the corpus is in the vocabulary")
            out.seek(0)
            final = idfile.write_header(out, dict(header, positions=positions, words=words_kept, sentences=sentences,
                                                  ids_sha256=ids_digest.hexdigest()), vocab_tsv, reserve=reserve)
            assert final == offset


def _spool_provisional_ids(path: Path, options: TokenizerOptions, spool) -> tuple[list[str], int]:
    """Tokenize the corpus once; write provisional ids (first-seen order) and sentence ends to
    ``spool``; return the distinct words by provisional id and the token count."""
    provisional: defaultdict[str, int] = defaultdict(itertools.count().__next__)
    lookup = provisional.__getitem__
    buffer = array("i")
    tokens = 0
    total, unit = _progress_total(path)
    with ProgressBar(total, "encode corpus", unit=unit) as bar:
        for lines, raw_bytes in _token_blocks(path, options):
            for joined in lines:
                parts = joined.split()
                for start in range(0, len(parts), MAX_SENTENCE):
                    buffer.extend(map(lookup, parts[start:start + MAX_SENTENCE]))
                    buffer.append(_SPOOL_END)
                tokens += len(parts)
            if len(buffer) >= PIECE_TOKENS:
                spool.write(buffer.tobytes())
                del buffer[:]
            bar.update(advance=raw_bytes, tokens=f"{tokens:,}")
        spool.write(buffer.tobytes())
    return list(provisional), tokens


def _progress_total(path: Path) -> tuple[float | None, str]:
    """The bar counts the corpus's bytes: known in advance for a plain text file."""
    path = Path(path)
    plain = path.is_file() and not path.name.lower().endswith((".gz", ".zip", ".tar", ".tgz", ".bz2", ".xz"))
    return (path.stat().st_size if plain else None), "B"


def _token_blocks(path: Path, options: TokenizerOptions) -> Iterator[tuple[list[str], int]]:
    """Tokenized blocks of the corpus with the UTF-8 bytes of the raw lines they came from."""
    from textlab.data.corpus import iter_corpus_lines

    sizes: list[int] = []

    def counted() -> Iterator[str]:
        for line in iter_corpus_lines(path):
            sizes.append(len(line.encode("utf-8", "surrogatepass")) + 1)
            yield line

    for block in tokenize_stream(counted(), options):
        consumed = sum(sizes[: len(block)])
        del sizes[: len(block)]
        yield block, consumed


def _spool_pieces(spool) -> Iterator[np.ndarray]:
    """The spooled provisional ids again, in order, ``PIECE_TOKENS`` at a time."""
    spool.flush()
    spool.seek(0)
    buffer = np.empty(PIECE_TOKENS, dtype=np.int32)
    while True:
        got = spool.readinto(memoryview(buffer).cast("B")) // 4
        if got == 0:
            return
        yield buffer[:got]


def _build_vocab(words: list[str], counts: np.ndarray, min_count: int, max_vocab: int | None) -> Vocab:
    """Words seen at least ``min_count`` times by descending count; no specials. Ties go as in
    gensim's ``sort_by_descending_frequency`` (the word first seen later comes first), so that
    "the 30,000 most frequent words" of an evaluation are the same words in both tools."""
    order = np.lexsort((-np.arange(counts.size), -counts))
    order = order[counts[order] >= min_count][: max_vocab or None]
    return Vocab([words[i] for i in order], counts[order])
