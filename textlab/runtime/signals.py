"""Signals: SIGINT/SIGTERM inside a training loop become a stop flag (the loop saves a
checkpoint and exits), and forked workers die on SIGTERM as ``Pool.terminate()`` expects.

Importing this module registers the at-fork SIGTERM handling; the CLI imports it at start."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from typing import Iterator


_forking = threading.local()


def _block_sigterm() -> None:
    _forking.was_blocked = signal.SIGTERM in signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})


def _unblock_sigterm() -> None:
    if not getattr(_forking, "was_blocked", False):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})


def _default_sigterm_in_child() -> None:
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    except ValueError:  # not the main thread of the child: leave it
        pass
    _unblock_sigterm()


# A forked child (a multiprocessing worker) must die on SIGTERM as Pool.terminate() expects, even
# when blocked in C code where no Python-level handler inherited from the parent could ever run.
# SIGTERM stays blocked from just before the fork until the child has the default action: one
# that arrived earlier (a pool terminated right after it started, on a busy machine) would meet
# the parent's handler, whose pending call the child drops, and the pool would wait forever.
os.register_at_fork(before=_block_sigterm, after_in_parent=_unblock_sigterm,
                    after_in_child=_default_sigterm_in_child)


def forward_if_forked(owner_pid: int, signum: int) -> None:
    """In a process forked from the one that installed a signal handler (a multiprocessing
    worker), act as if no handler were installed: ``Pool.terminate()`` relies on SIGTERM
    killing its workers, and a worker that only raised an exception or set a flag would hang it."""
    if os.getpid() != owner_pid:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


class StopRequest:
    """Set when SIGINT or SIGTERM arrives inside :func:`graceful_stop`; the loop polls it."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __bool__(self) -> bool:
        return self.signum is not None


@contextlib.contextmanager
def stop_signal_handler(handler) -> Iterator[None]:
    """Route SIGINT and SIGTERM to ``handler`` inside the block, then restore the previous
    handlers. Only in the main thread (signal handlers cannot live elsewhere); a no-op there."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def graceful_stop(notice: str = "saving a checkpoint") -> Iterator[StopRequest]:
    """Turn SIGINT/SIGTERM into a flag so a training loop can save a checkpoint and exit; around
    a model's final save (``notice="saving the model"``) the flag just lets the save finish.

    A second signal while the first is being handled raises KeyboardInterrupt at once.
    """
    from textlab.runtime.output import say  # here, not at import: the CLI imports this module at start

    request = StopRequest()
    owner = os.getpid()

    def handler(signum, frame):  # noqa: ARG001
        forward_if_forked(owner, signum)
        if request.signum is not None:
            raise KeyboardInterrupt
        request.signum = signum
        say(f"{signal.Signals(signum).name} received: {notice}, please wait...", style="yellow")

    with stop_signal_handler(handler):
        yield request
