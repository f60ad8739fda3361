"""One job per output name, one writer per cache entry: a lock held for the job's life.

A training job reserves its output's name when it starts (:func:`reserve_output`, where it
checks that the output may be written), before it reads any data; a second job on the same name
is refused at once, in one line naming the job that holds it, and ``--force`` does not override
a running job. Writers of a shared cache entry (an encoded corpus, a download) take turns
(:func:`taking_turns`): the later one waits, says so, then finds the entry written.

The lock is ``fcntl.flock`` on ``.<name>.lock`` beside the target, held until the job ends,
however it ends: the kernel releases the lock of a process that dies, even by ``kill -9``. The
lock file records its holder (pid, host, start, command line), so that a refusal names it; it is
removed when its holder finishes. A lock file that exists but is not locked was left by a job
that was killed: the next job takes it over and says so.

Under torchrun only the process that saves (rank 0) holds the reservation; the others only
check the output.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import fcntl
import json
import os
import socket
from pathlib import Path
from typing import Callable, Iterator

from textlab.atomic import cannot_write, check_writable_parent, check_writable_target, named
from textlab.errors import TextlabError
from textlab.runtime.output import say
from textlab.store.places import home_hint


def lock_path(target: Path) -> Path:
    """``.<name>.lock`` in the target's directory (hidden: the store lists no such name)."""
    target = Path(target)
    return target.parent / f".{target.name}.lock"


class _Held(Exception):
    """The lock is held by another process, described by ``holder`` (may be empty)."""

    def __init__(self, holder: dict):
        super().__init__("held")
        self.holder = holder


def _holder(fd: int) -> dict:
    try:
        record = json.loads(os.pread(fd, 4096, 0).decode("utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _same_file(fd: int, path: Path) -> bool:
    """Still the file at ``path``: a holder that finished removed it (and its lock with it)."""
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _acquire(path: Path, wait: Callable[[dict], None] | None) -> tuple[int, dict]:
    """Lock ``path`` (created if missing); returns the descriptor and the record the file held
    before (a killed holder's). Another holder: :class:`_Held`, or with ``wait`` that is called
    once and the lock awaited."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if wait is None:
                    raise _Held(_holder(fd)) from None
                wait(_holder(fd))
                wait = _silent
                fcntl.flock(fd, fcntl.LOCK_EX)
            if _same_file(fd, path):
                return fd, _holder(fd)
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # locked a file its holder had just removed: start again


def _silent(holder: dict) -> None:
    pass


def _record() -> bytes:
    from textlab.store.cards import command_line

    return json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": command_line(),
                       "started": _dt.datetime.now().astimezone().isoformat(timespec="seconds")}).encode("utf-8")


@contextlib.contextmanager
def _locked(target: Path, what: str, wait: Callable[[dict], None] | None) -> Iterator[dict]:
    """Hold the lock of ``target`` for the block; yields the record a killed holder left."""
    path = lock_path(target)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, previous = _acquire(path, wait)
    except OSError as exc:
        raise TextlabError(cannot_write(f"the reservation of {what}", path, exc) + home_hint(path)) from None
    try:
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, _record(), 0)
        except OSError as exc:
            raise TextlabError(cannot_write(f"the reservation of {what}", path, exc)) from None
        yield previous
    finally:
        if _same_file(fd, path):
            with contextlib.suppress(OSError):
                os.unlink(path)
        os.close(fd)  # releases the lock


def describe(holder: dict) -> str:
    """``pid 1234 on host, since 2025-01-01T10:00:00+00:00: textlab train-w2v ...``"""
    if not holder.get("pid"):
        return "a job that is starting"
    where = f" on {holder['host']}" if holder.get("host") and holder["host"] != socket.gethostname() else ""
    since = f", since {holder['started']}" if holder.get("started") else ""
    command = f": {holder['command']}" if holder.get("command") else ""
    return f"pid {holder['pid']}{where}{since}{command}"


def _running(holder: dict) -> bool | None:
    """Whether the holder's process still exists (None: on another host, cannot tell)."""
    if holder.get("host") not in (None, socket.gethostname()) or not isinstance(holder.get("pid"), int):
        return None
    try:
        os.kill(holder["pid"], 0)
    except ProcessLookupError:
        return False
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


@contextlib.contextmanager
def reserve_output(output: Path, force: bool, what: str = "model", hold: bool = True,
                   resume: bool | None = None) -> Iterator[None]:
    """The start of a job that writes ``output``: check that it may be written (an existing
    output needs ``force``) and reserve the name for the block (``hold``: this process is the
    one that saves; False under torchrun on ranks other than 0, which only check). A training
    job (``resume`` given) that does not resume is refused where an interrupted run left its
    checkpoint, unless ``force``: starting afresh would discard that run without a word."""
    output = named(Path(output))
    hint = home_hint(output, " or give -o a path outside it")
    check_writable_parent(output, what, hint)
    if resume is False and not force:
        check_no_interrupted_run(output)
    if not hold:
        check_writable_target(output, force, what, hint, directory=True)
        yield
        return
    try:
        with _locked(output, f"the {what}", wait=None) as previous:
            if previous.get("pid"):
                state = "no longer running" if _running(previous) is False else "its lock was released"
                say(f"taking over a stale reservation of {output} left by pid {previous['pid']} ({state})",
                    style="yellow")
            check_writable_target(output, force, what, hint, directory=True)
            yield
    except _Held as held:  # raised by the lock only, never by the job it guards
        raise TextlabError(f"the {what} {output} is reserved by another running job ({describe(held.holder)}); "
                           "wait for it to finish, or write elsewhere with -o") from None


def check_not_reserved(target: Path) -> None:
    """Refuse to remove or rename ``target`` while a running job holds its reservation (the job
    would then fail to save, or save over the name's new model)."""
    path = lock_path(Path(target))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:  # no lock file: nothing reserves the name
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TextlabError(f"{target} is reserved by a running job ({describe(_holder(fd))}); "
                               "wait for it to finish") from None
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def check_no_interrupted_run(output: Path) -> None:
    """Refuse to start ``output`` afresh where an interrupted run left its checkpoint (``--resume``
    continues it, ``--force`` discards it)."""
    from textlab.runtime.checkpoints import STRUCTURE_FILE, checkpoint_dir_for

    checkpoint = checkpoint_dir_for(output)
    if (checkpoint / STRUCTURE_FILE).is_file():
        raise TextlabError(f"an interrupted run left a checkpoint in {checkpoint}; continue it with --resume, "
                           "or pass --force to start over (the checkpoint is then discarded)")


@contextlib.contextmanager
def taking_turns(target: Path, waiting: str, log: Callable[[str], None] = say) -> Iterator[None]:
    """Hold ``target``'s lock for the block (writing a shared cache entry); when another job
    holds it, ``log(waiting + its holder)`` once and wait for it."""
    with _locked(Path(target), str(target), wait=lambda holder: log(f"{waiting} ({describe(holder)})")):
        yield
