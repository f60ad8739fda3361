"""Archives: safe extraction (no member may escape the target directory) and streaming reads."""

from __future__ import annotations

import bz2
import contextlib
import gzip
import lzma
import os
import re
import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable, Iterator

from textlab.errors import DataError

TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tbz2", ".tbz", ".tar.xz", ".txz")


def is_tar(path: Path) -> bool:
    return str(path).lower().endswith(TAR_SUFFIXES)


def is_zip(path: Path) -> bool:
    return str(path).lower().endswith(".zip")


#: Magic numbers of the compressions a file or a tar archive may come in (bzip2's "BZh" is
#: text too, so its level digit and the magic of its first block, or of an empty stream, follow).
_DECOMPRESSORS = (("gzip", re.compile(rb"\x1f\x8b"), lambda raw: gzip.GzipFile(fileobj=raw)),
                  ("bzip2", re.compile(rb"BZh[1-9](1AY&SY|\x17rE8P\x90)"), bz2.BZ2File),
                  ("xz", re.compile(rb"\xfd7zXZ\x00"), lzma.LZMAFile))
_MAGIC_BYTES = 10
_DRAIN_BYTES = 1 << 16


def _compressor(head: bytes) -> tuple[str, Callable[[BinaryIO], BinaryIO]] | None:
    """(name, opener) of the compression a file's first bytes announce, else None."""
    for name, magic, opener in _DECOMPRESSORS:
        if magic.match(head):
            return name, opener
    return None


def _decompressed(raw: BinaryIO) -> BinaryIO:
    found = _compressor(raw.read(_MAGIC_BYTES))
    raw.seek(0)
    return found[1](raw) if found else raw


def compression(path: Path) -> str | None:
    """``"gzip"``, ``"bzip2"`` or ``"xz"`` when the file's first bytes say it is compressed so
    (whatever its name), else None."""
    with open(path, "rb") as raw:
        found = _compressor(raw.read(_MAGIC_BYTES))
    return found[0] if found else None


@contextlib.contextmanager
def open_decompressed(path: Path) -> Iterator[BinaryIO]:
    """``path`` opened for reading, decompressed when its first bytes say gzip, bzip2 or xz
    (as gensim reads ``.gz`` and ``.bz2`` vectors and corpora; here the content decides, not
    the name)."""
    with open(path, "rb") as raw, _decompressed(raw) as stream:
        yield stream


def is_zip_content(path: Path) -> bool:
    """A zip archive by its first bytes (a ``.zip`` by name is :func:`is_zip`)."""
    with open(path, "rb") as raw:
        return raw.read(4) == b"PK\x03\x04"


@contextlib.contextmanager
def stream_tar(path: Path) -> Iterator[tarfile.TarFile]:
    """A tar archive (plain, gzip, bzip2 or xz) opened for one forward pass over its members.

    tarfile's own stream mode (``r|*``) checks no gzip CRC and takes a damaged member header
    for the end of the archive, so a damaged or cut archive could read as a shorter one. Here
    the decompressor checks its stream, and after a complete pass the rest of the archive is
    read: anything but the zero padding after the last member raises ``tarfile.ReadError``.
    """
    with open(path, "rb") as raw, _decompressed(raw) as stream, tarfile.open(fileobj=stream, mode="r|") as archive:
        yield archive
        while rest := stream.read(_DRAIN_BYTES):
            if rest.count(0) != len(rest):
                raise tarfile.ReadError("a damaged member header, with more of the archive after it")


def check_member_name(name: str, archive: Path) -> PurePosixPath:
    """A member name must be relative and stay inside the target (no ``..``, no absolute path)."""
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise DataError(f"{archive}: refusing member with an absolute path: {name!r}")
    if any(part == ".." for part in pure.parts):
        raise DataError(f"{archive}: refusing member that escapes the target directory: {name!r}")
    return pure


def safe_extract(archive: Path, target: Path) -> Path:
    """Extract a tar or zip archive into ``target`` after checking every member.

    Refused: absolute paths, ``..`` components, symbolic or hard links pointing outside the
    target, and device or FIFO members. Nothing is written if any member is refused.
    """
    archive, target = Path(archive), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    root = target.resolve()
    try:
        if is_tar(archive):
            with tarfile.open(archive) as tar:
                members = tar.getmembers()
                for member in members:
                    _check_tar_member(member, archive, root)
                tar.extractall(root, members=members, filter="data")
        elif is_zip(archive):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    pure = check_member_name(info.filename, archive)
                    if not _inside(root, root / pure):
                        raise DataError(f"{archive}: refusing member outside the target: {info.filename!r}")
                zf.extractall(root)
        else:
            raise DataError(f"{archive}: not a tar or zip archive")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{archive}: damaged archive ({exc})") from exc
    return target


def _inside(root: Path, candidate: Path) -> bool:
    resolved = Path(os.path.normpath(candidate))
    return resolved == root or root in resolved.parents


def _check_tar_member(member: tarfile.TarInfo, archive: Path, root: Path) -> None:
    pure = check_member_name(member.name, archive)
    destination = root / pure
    if not _inside(root, destination):
        raise DataError(f"{archive}: refusing member outside the target: {member.name!r}")
    if member.issym() or member.islnk():
        link = PurePosixPath(member.linkname)
        base = destination.parent if member.issym() else root
        if link.is_absolute() or not _inside(root, base / link):
            raise DataError(f"{archive}: refusing link {member.name!r} -> {member.linkname!r} pointing outside")
    if member.isdev() or member.isfifo():
        raise DataError(f"{archive}: refusing device or FIFO member {member.name!r}")
