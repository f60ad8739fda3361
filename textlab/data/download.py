"""Downloads into the cache with a progress bar, HTTP range resume, bounded retries with
backoff, and size/SHA-256 checks. A file that does not check out is removed, never used; a
write the OS refuses (a full disk) removes the partial file and is said in one line. Two jobs
that need the same dataset take turns: the second waits for the first's download."""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from textlab.atomic import cannot_write
from textlab.data.registry import Dataset
from textlab.errors import DownloadError
from textlab.integrity import sha256_stream
from textlab.reservation import taking_turns
from textlab.runtime.output import say
from textlab.runtime.progress import ProgressBar
from textlab.store.places import home_hint

CHUNK = 1 << 20
USER_AGENT = "textlab/0.1 (+https://pypi.org/project/textlab)"


def sha256_file(path: Path, member: str | None = None) -> str:
    """SHA-256 of a file, or of one ``member`` of a zip archive."""
    if member is None:
        with open(path, "rb") as handle:
            return sha256_stream(handle)
    with zipfile.ZipFile(path) as archive, archive.open(member) as handle:
        return sha256_stream(handle)


def verify(dataset: Dataset, path: Path) -> None:
    """Raise DownloadError when ``path`` does not have the dataset's size and checksums."""
    size = path.stat().st_size
    if dataset.size is not None and size != dataset.size:
        raise DownloadError(f"{dataset.name}: size mismatch, got {size:,} bytes, expected {dataset.size:,}")
    if dataset.sha256:
        actual = sha256_file(path)
        if actual != dataset.sha256:
            raise DownloadError(f"{dataset.name}: SHA-256 mismatch (got {actual[:16]}…, expected {dataset.sha256[:16]}…)")
    if dataset.member_sha256 and dataset.member:
        try:
            actual = sha256_file(path, dataset.member)
        except (zipfile.BadZipFile, KeyError) as exc:
            raise DownloadError(f"{dataset.name}: the archive is damaged or lacks {dataset.member} ({exc})") from exc
        if actual != dataset.member_sha256:
            raise DownloadError(f"{dataset.name}: SHA-256 mismatch of {dataset.member}")


def download_dataset(
    dataset: Dataset,
    dest: Path | None = None,
    retries: int = 4,
    timeout: float = 30.0,
    backoff: float = 1.0,
    force: bool = False,
) -> Path:
    """Fetch ``dataset.url`` to ``dest`` (default: the cache), resuming a partial ``.part`` file."""
    if not dataset.url:
        raise DownloadError(f"dataset {dataset.name} has no download address")
    dest = Path(dest or dataset.cache_path)
    if dest.is_file() and not force:
        return dest
    _make_room(dataset, dest)
    with taking_turns(dest, f"waiting for another job downloading {dataset.name}"):
        if dest.is_file() and not force:
            return dest  # the job we waited for downloaded it
        return _download(dataset, dest, retries, timeout, backoff)


def _make_room(dataset: Dataset, dest: Path) -> None:
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(cannot_write(f"the dataset {dataset.name}", dest, exc) + home_hint(dest)) from None


def _download(dataset: Dataset, dest: Path, retries: int, timeout: float, backoff: float) -> Path:
    part = dest.with_name(dest.name + ".part")
    attempt = 0
    while True:
        try:
            _fetch(dataset, part, timeout)
            break
        except _Retryable as exc:
            attempt += 1
            if attempt > retries:
                raise DownloadError(f"{dataset.name}: download failed after {retries + 1} tries: {exc}; "
                                    f"{offline_hint(dataset, dest)}") from None
            wait = backoff * (2 ** (attempt - 1))
            say(f"{dataset.name}: {exc}; retrying in {wait:.1f}s ({attempt}/{retries})", style="yellow")
            time.sleep(wait)
    try:
        verify(dataset, part)
    except DownloadError:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)
    return dest


def offline_hint(dataset: Dataset, dest: Path | None = None) -> str:
    """What to do without the network: fetch the file another way, then copy it in with
    ``textlab download NAME --from FILE`` (checked like a download) or place it in the cache."""
    dest = Path(dest or dataset.cache_path)
    return (f"without network access, get {dataset.filename} another way, then run "
            f"'textlab download {dataset.name} --from FILE' or place the file at {dest}")


def copy_into_cache(dataset: Dataset, source: Path, force: bool = False) -> Path:
    """``textlab download NAME --from FILE``: copy a local file into the cache after checking
    its size and SHA-256 as a download's are; a file that does not check out is not kept."""
    source = Path(source).expanduser()
    if not source.is_file():
        raise DownloadError(f"--from: {source} is not a file")
    dest = dataset.cache_path
    if dest.is_file() and not force:
        return dest
    _make_room(dataset, dest)
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".copy", dir=dest.parent)
    os.close(fd)
    temporary = Path(name)
    try:
        try:
            shutil.copyfile(source, temporary)
        except OSError as exc:
            raise DownloadError(f"cannot copy {source} into the cache: {exc.strerror or exc}") from None
        try:
            verify(dataset, temporary)
        except DownloadError as exc:
            raise DownloadError(f"{source} is not the expected {dataset.filename}: {exc}") from None
        os.replace(temporary, dest)
    finally:
        temporary.unlink(missing_ok=True)
    return dest


class _Retryable(Exception):
    pass


def _fetch(dataset: Dataset, part: Path, timeout: float) -> None:
    have = part.stat().st_size if part.exists() else 0
    if dataset.size is not None and have > dataset.size:
        part.unlink()
        have = 0
    headers = {"User-Agent": USER_AGENT}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(dataset.url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have and (dataset.size is None or have == dataset.size):
            return  # already complete
        if exc.code == 416:
            part.unlink(missing_ok=True)
            raise _Retryable("the server refused to resume; starting over") from None
        if exc.code >= 500 or exc.code in (408, 429):
            raise _Retryable(f"HTTP {exc.code} {exc.reason}") from None
        raise DownloadError(f"{dataset.name}: HTTP {exc.code} {exc.reason} for {dataset.url}; "
                            f"{offline_hint(dataset, part.with_name(part.name[: -len('.part')]))}") from None
    except (urllib.error.URLError, socket.timeout, ConnectionError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise _Retryable(f"cannot reach {dataset.url}: {reason}") from None
    with response:
        status = getattr(response, "status", 200)
        if status == 206:
            mode = "ab"
        else:  # the server sent the whole file
            mode, have = "wb", 0
        length = response.headers.get("Content-Length")
        expected = have + int(length) if length and length.isdigit() else dataset.size
        received = have
        try:
            with open(part, mode) as out, ProgressBar(expected, f"download {dataset.name}", unit="B") as bar:
                bar.update(completed=have)
                read = getattr(response, "read1", response.read)  # read1: what has arrived, so a stall keeps it
                while True:
                    block = read(CHUNK)
                    if not block:
                        break
                    out.write(block)
                    received += len(block)
                    bar.update(advance=len(block))
                out.flush()
                os.fsync(out.fileno())
        except (socket.timeout, ConnectionError, http.client.HTTPException, OSError) as exc:
            if isinstance(exc, OSError) and exc.errno is not None and not isinstance(exc, (ConnectionError, socket.timeout)):
                part.unlink(missing_ok=True)  # a full disk: resuming would not help, and the space is the user's
                dest = part.with_name(part.name[: -len(".part")])
                raise DownloadError(cannot_write(f"the dataset {dataset.name}", dest, exc)
                                    + "; the partial download was removed") from None
            raise _Retryable(f"connection lost after {received:,} bytes ({exc})") from None
        if expected is not None and received < expected:
            raise _Retryable(f"connection closed after {received:,} of {expected:,} bytes")
