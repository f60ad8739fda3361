"""Lines of standard input for ``textlab sentiment``: read by a thread as they arrive, handed on
in batches (a batch goes out when it is full or the input pauses, so someone typing gets an
answer per line), in constant memory whatever the input (a bounded queue; a huge line is kept
as its head and tail)."""

from __future__ import annotations

import io
import os
import queue
import signal
import sys
import threading
from typing import Iterator, TextIO


#: Characters of a line read whole. A longer line keeps its first and last ``LINE_PART``
#: characters (joined by a space): far more than a model reads (the first ``max(head_len,
#: bag_max_len)`` and the last ``max_len - head_len`` words, unless words average thousands of
#: characters), so the result is the same and memory stays bounded (one 200 MB line: 3.9 GB).
LINE_PART = 1 << 22


def read_line(stream: TextIO, part: int = LINE_PART) -> str | None:
    """The next line without its line end (None at the end of the input); a line longer than
    ``2 * part`` characters as its head and tail."""
    line = stream.readline(part)
    if not line:
        return None
    if len(line) < part or line.endswith("\n"):
        return line.rstrip("\r\n")
    rest, dropped = "", False
    while more := stream.readline(part):
        ended = more.endswith("\n")
        rest += more.rstrip("\r\n") if ended else more
        if len(rest) > part:
            rest, dropped = rest[-part:], True
        if ended:
            break
    return line + (" " if dropped else "") + rest


def _reader(stream: TextIO, lines: "queue.Queue[str | None]") -> None:
    try:
        while (line := read_line(stream)) is not None:
            lines.put(line)
    finally:
        lines.put(None)


def _start_reader(stream: TextIO, lines: "queue.Queue[str | None]") -> None:
    """Start the reader thread with SIGINT and SIGTERM blocked in it, so that the kernel hands
    them to the main thread: one delivered to the reader would leave the main thread waiting
    for the next line (Ctrl-C would do nothing until then)."""
    thread = threading.Thread(target=_reader, args=(stream, lines), daemon=True, name="textlab-stdin")
    if not hasattr(signal, "pthread_sigmask"):  # Windows: signals only reach the main thread anyway
        thread.start()
        return
    stops = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, stops)  # a new thread inherits this thread's mask
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def stdin_batches(stream: TextIO, batch_size: int, pause_seconds: float = 0.05) -> Iterator[list[str] | None]:
    """Batches of up to ``batch_size`` lines. A batch is handed on when it is full or when the
    input pauses (then followed by ``None``, a flush marker), so a result appears as soon as its
    line has arrived (someone typing gets an answer per line). A bounded queue between the
    reader thread and the model keeps memory constant on an endless stream."""
    lines: "queue.Queue[str | None]" = queue.Queue(maxsize=4 * batch_size)
    _start_reader(stream, lines)
    while True:
        first = lines.get()
        if first is None:
            return
        batch = [first]
        ended = False
        while len(batch) < batch_size:
            try:
                line = lines.get(timeout=pause_seconds) if lines.empty() else lines.get_nowait()
            except queue.Empty:
                break
            if line is None:
                ended = True
                break
            batch.append(line)
        yield batch
        if ended:
            return
        if len(batch) < batch_size:
            yield None  # the input paused: results so far should go out now


def text_stdin() -> TextIO:
    """Standard input as text (UTF-8, bad bytes replaced, universal newlines) for the reader
    thread of :func:`stdin_batches`.

    It reads a duplicate of the descriptor through its own unbuffered file object: a thread
    blocked in ``sys.stdin.buffer.read`` holds that object's lock, and when Ctrl-C ends the
    program the interpreter's final flush of stdin cannot take it (``Fatal Python error:
    _enter_buffered_busy``). A raw file object has no lock."""
    try:
        fd = os.dup(sys.stdin.fileno())
    except (AttributeError, OSError, ValueError):  # no descriptor (an in-memory stdin) or none at all
        if sys.stdin is None:
            return io.StringIO("")
        buffer = getattr(sys.stdin, "buffer", None)
        if buffer is None:
            return sys.stdin
        return io.TextIOWrapper(buffer, encoding="utf-8", errors="replace", newline=None)
    stream = io.TextIOWrapper(io.FileIO(fd, "r", closefd=True), encoding="utf-8", errors="replace", newline=None)
    stream._CHUNK_SIZE = 1 << 16  # each read is one system call: take a pipe's worth at a time
    return stream
