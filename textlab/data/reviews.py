"""Labelled review readers for sentiment: yield ``(text, label)`` with label 1 = positive,
0 = negative, one review at a time (constant memory).

Sources:

- ``imdb`` (the registered dataset), an aclImdb directory or an aclImdb tarball: the
  ``train`` or ``test`` split, ``pos/`` and ``neg/`` review files (``unsup/`` is skipped).
  Tarballs are read as a stream (:func:`textlab.data.archive.stream_tar`), never extracted.
- a CSV file with a header naming a label column and a text column (:data:`LABEL_COLUMNS`,
  :data:`TEXT_COLUMNS`: ``label,review`` in ChnSentiCorp, waimai_10k and online_shopping_10_cats
  with its extra ``cat`` column; ``text,label`` as the Hugging Face IMDb export), a zip holding
  one, or the same as tab-separated values (a ``.tsv`` file, or a header with tabs and no comma:
  GLUE's SST-2 ``sentence<TAB>label``, read unquoted as GLUE's own reader does);
- a fastText supervised file: ``__label__pos great film`` per line (the words with the prefix
  are the line's label, the others its text), recognised by its first line.

Labels are 1/0, pos/neg or positive/negative. UTF-8 with invalid bytes replaced; malformed rows
are skipped and counted.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterator

from textlab.data.archive import compression, is_tar, is_zip, is_zip_content, open_decompressed, stream_tar
from textlab.data.corpus import DAMAGED, checked_reader, resolve_corpus, decoded_text
from textlab.errors import DataError, UsageError

SPLITS = ("train", "test")
LABEL_DIRS = {"pos": 1, "neg": 0}
_LABELS = {"1": 1, "0": 0, "pos": 1, "neg": 0, "positive": 1, "negative": 0}
#: Header names of the label and the text column, in order of preference (case ignored).
LABEL_COLUMNS = ("label", "sentiment", "polarity")
TEXT_COLUMNS = ("review", "text", "sentence", "content", "comment")
#: What begins a label in a fastText supervised file.
FASTTEXT_LABEL = "__label__"
_FIELD_LIMIT = 16 * 1024 * 1024


@dataclass
class ReadStats:
    """What a reader saw: reviews yielded and malformed rows skipped (with the first reason)."""

    read: int = 0
    skipped: int = 0
    first_problem: str = ""

    def skip(self, where: str) -> None:
        self.skipped += 1
        if not self.first_problem:
            self.first_problem = where

    def warning(self) -> str | None:
        """The one line that tells the user rows were skipped (None: none were)."""
        return f"{self.skipped} malformed rows skipped (first: {self.first_problem})" if self.skipped else None


def review_source_kind(path: Path) -> str:
    """``aclimdb`` (directory or tarball) or ``csv`` (any other file: CSV, TSV or fastText lines,
    plain, gzipped or a zip holding one; :func:`_iter_csv` tells them apart and refuses the rest)."""
    if path.is_dir() or is_tar(path):
        return "aclimdb"
    if path.is_file():  # whatever its name (fastText's own are .train/.valid): the reader tells the forms apart
        return "csv"
    raise DataError(f"{path}: expected an aclImdb directory or tarball, or a file of labelled reviews "
                    "(label,review CSV or TSV, or fastText __label__ lines; plain, compressed or zipped)")


def iter_reviews(spec: str | Path, split: str = "train", stats: ReadStats | None = None) -> Iterator[tuple[str, int]]:
    """``(text, label)`` pairs from a dataset name, aclImdb directory/tarball or CSV.

    ``split`` selects the aclImdb split; a CSV has no splits and yields every row.
    """
    if split not in SPLITS:
        raise UsageError(f"unknown split {split!r}; use train or test")
    stats = stats if stats is not None else ReadStats()
    path = resolve_corpus(str(spec))
    kind = review_source_kind(path)
    reader = _iter_aclimdb(path, split, stats) if kind == "aclimdb" else _iter_csv(path, stats)
    for text, label in reader:
        stats.read += 1
        yield text, label
    if stats.read == 0:
        detail = f" ({stats.skipped} malformed rows skipped, first: {stats.first_problem})" if stats.skipped else ""
        what = f"the {split} split of " if kind == "aclimdb" else ""
        raise DataError(f"no labelled reviews found in {what}{path}{detail}")


# --------------------------------------------------------------------------- aclImdb


def _member_folder(name: str, split: str, folders: tuple[str, ...]) -> str | None:
    """The folder of a member named ``.../<split>/<folder>/<id>_<rating>.txt`` when it is one of
    ``folders``, else None."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if len(parts) < 3 or parts[-3] != split or not parts[-1].endswith(".txt") or parts[-2] not in folders:
        return None
    return parts[-2]


def _decode(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace")
    return " ".join(text.replace("\ufeff", "").split())


def _iter_aclimdb(path: Path, split: str, stats: ReadStats) -> Iterator[tuple[str, int]]:
    for folder, text in _aclimdb_texts(path, split, ("pos", "neg")):
        yield text, LABEL_DIRS[folder]


def is_aclimdb(path: Path) -> bool:
    """An aclImdb directory, or a tarball whose first members are under ``aclImdb/`` (a peek at
    their headers; a damaged archive is named by the reading that follows)."""
    if path.is_dir():
        return any((root / "train" / "pos").is_dir() for root in (path, path / "aclImdb"))
    if not is_tar(path):
        return False
    import tarfile

    try:
        with tarfile.open(path, "r|*") as archive:
            for _, member in zip(range(20), archive):
                if member.name.replace("\\", "/").lstrip("./").startswith("aclImdb/"):
                    return True
    except (*DAMAGED, OSError):
        return False
    return False


def iter_review_texts(spec: str | Path, split: str = "train", unlabelled: bool = True) -> Iterator[str]:
    """Every review of an aclImdb split as text, labels ignored: the labelled ones (``pos/``,
    ``neg/``), then the unlabelled ones (``train/unsup/``, with ``unlabelled``); what a language
    model reads. The other split is never opened."""
    if split not in SPLITS:
        raise UsageError(f"unknown split {split!r}; use train or test")
    path = resolve_corpus(str(spec))
    for folders in (("pos", "neg"), ("unsup",) if unlabelled and split == "train" else ()):
        for _folder, text in _aclimdb_texts(path, split, folders):
            yield text


def _aclimdb_texts(path: Path, split: str, folders: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """``(folder, text)`` of every ``<split>/<folder>/*.txt`` (a directory: folder by folder, in
    name order; a tarball: in its order, read as a stream)."""
    if not folders:
        return
    if path.is_dir():
        root = _aclimdb_root(path, split)
        for name in folders:
            folder = root / split / name
            for file in sorted(os.listdir(folder)) if folder.is_dir() else ():
                if file.endswith(".txt"):
                    try:
                        yield name, _decode((folder / file).read_bytes())
                    except OSError as exc:
                        raise DataError(f"cannot read {folder / file}: {exc.strerror or exc}") from exc
        return
    try:
        with stream_tar(path) as archive:
            for member in archive:
                folder = _member_folder(member.name, split, folders) if member.isfile() else None
                handle = archive.extractfile(member) if folder is not None else None
                if handle is not None:
                    yield folder, _decode(handle.read())
    except (*DAMAGED, OSError) as exc:
        raise DataError(f"{path}: damaged or unreadable archive ({exc})") from exc


def _aclimdb_root(path: Path, split: str) -> Path:
    for root in (path, path / "aclImdb"):
        if (root / split / "pos").is_dir() and (root / split / "neg").is_dir():
            return root
    raise DataError(f"{path} is not an aclImdb directory (no {split}/pos and {split}/neg folders)")


# --------------------------------------------------------------------------- CSV


def _csv_text(binary) -> io.TextIOWrapper:
    return decoded_text(binary, newline="")


def _open_csv_text(path: Path) -> Iterator[io.TextIOBase]:
    """The labelled file as text: a zip's first .csv, a gzip file by its name, and, as corpora
    are read (:mod:`textlab.data.corpus`), a zip or a gzip/bzip2/xz file by its first bytes."""
    if is_zip(path) or is_zip_content(path):
        try:
            with zipfile.ZipFile(path) as archive:
                members = sorted(i.filename for i in archive.infolist() if i.filename.lower().endswith(".csv"))
                if not members:
                    raise DataError(f"{path}: the zip holds no .csv file")
                with archive.open(members[0]) as handle:
                    yield _csv_text(checked_reader(handle, f"{path}: {members[0]}"))
        except (zipfile.BadZipFile, EOFError) as exc:
            raise DataError(f"{path}: damaged zip archive ({exc})") from exc
    elif str(path).lower().endswith(".gz"):
        import gzip

        with gzip.open(path, "rb") as handle:
            yield _csv_text(checked_reader(handle, str(path)))
    elif compression(path):
        with open_decompressed(path) as handle:
            yield _csv_text(checked_reader(handle, str(path)))
    else:
        try:
            with open(path, "rb") as handle:
                yield _csv_text(handle)
        except OSError as exc:
            raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _next_row(reader) -> list[str]:
    """The reader's next row, read with a field limit that holds a whole review (the csv
    module's limit is process-wide: it is set for this read only, then restored)."""
    previous = csv.field_size_limit(min(sys.maxsize, _FIELD_LIMIT))
    try:
        return next(reader)
    finally:
        csv.field_size_limit(previous)


def _iter_csv(path: Path, stats: ReadStats) -> Iterator[tuple[str, int]]:
    for stream in _open_csv_text(path):
        first = stream.readline(_FIELD_LIMIT)  # a header, not a whole file without newlines
        if not first.strip():
            raise DataError(f"{path} is empty" if not first else f"{path}: its first line (the header) is blank")
        lines = itertools.chain([first], stream)
        if first.lstrip().startswith(FASTTEXT_LABEL):
            yield from _iter_fasttext(lines, stats)
            continue
        tab = "\t" in first and ("," not in first or path.name.lower().endswith((".tsv", ".tsv.gz")))
        separator = "\t" if tab else ","
        reader = csv.reader(lines, delimiter=separator, quoting=csv.QUOTE_NONE if tab else csv.QUOTE_MINIMAL)
        try:
            header = _next_row(reader)
        except csv.Error as exc:
            raise DataError(f"{path}: not a readable CSV ({exc})") from exc
        label_at, review_at = _column(header, LABEL_COLUMNS, path), _column(header, TEXT_COLUMNS, path)
        width = len(header)
        while True:
            try:
                row = _next_row(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                stats.skip(f"line {reader.line_num}: {exc}")
                continue
            if not row:
                continue
            if len(row) > width and review_at == width - 1:
                row = row[: width - 1] + [separator.join(row[width - 1 :])]  # unquoted separators in the review
            if len(row) != width:
                stats.skip(f"line {reader.line_num}: {len(row)} fields, expected {width}")
                continue
            labelled = _labelled(row[label_at], row[review_at], f"line {reader.line_num}", stats)
            if labelled is not None:
                yield labelled


def _column(header: list[str], names: tuple[str, ...], path: Path) -> int:
    """The index of the first of ``names`` in ``header`` (case and spaces ignored)."""
    columns = [h.strip().lower() for h in header]
    for name in names:
        if name in columns:
            return columns.index(name)
    raise DataError(f"{path}: expected a header naming a label column ({', '.join(LABEL_COLUMNS)}) and a text column "
                    f"({', '.join(TEXT_COLUMNS)}), found {[h[:40] for h in header[:5]]}")


def _labelled(label: str, text: str, where: str, stats: ReadStats) -> tuple[str, int] | None:
    """``(text, 1 or 0)``, or None (counted in ``stats``) for an unknown label or an empty text."""
    value = _LABELS.get(label.strip().lower())
    text = " ".join(text.split())
    if value is None:
        stats.skip(f"{where}: label {label[:20]!r} is not 1/0, pos/neg or positive/negative")
        return None
    if not text:
        stats.skip(f"{where}: empty review")
        return None
    return text, value


def _iter_fasttext(lines: Iterator[str], stats: ReadStats) -> Iterator[tuple[str, int]]:
    """fastText's supervised format: the words that begin with ``__label__`` are the label."""
    for number, line in enumerate(lines, 1):
        words = line.split()
        if not words:
            continue
        labels = {w[len(FASTTEXT_LABEL):] for w in words if w.startswith(FASTTEXT_LABEL)}
        if len(labels) != 1:
            stats.skip(f"line {number}: {len(labels) or 'no'} labels, expected one")
            continue
        labelled = _labelled(labels.pop(), " ".join(w for w in words if not w.startswith(FASTTEXT_LABEL)),
                             f"line {number}", stats)
        if labelled is not None:
            yield labelled
