"""Inference: batched probabilities for lists of texts, and streaming over stdin (results are
printed batch by batch while input is still arriving; memory stays constant).

On CPU, batches are scored in forked worker processes (one torch thread each). Dynamic int8
quantisation of the LSTM/linear layers is available (``Predictor(quantize=True)``) but off by
default: it did not speed up scoring (shipped English model, one thread, CPU seconds per 1,000
IMDb test reviews: 0.18-0.24 float vs 0.21-0.25 int8; 1.0-1.2 vs 0.9-1.1 for a 1x64 BiLSTM
over 256 words), so it is not worth its rounding."""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import queue
import signal
import sys
import threading
import warnings
from collections import deque
from typing import Iterable, Iterator, Sequence, TextIO

import torch

from textlab.sentiment.data import collate, tokenize_one
from textlab.sentiment.saved import LoadedModel
from textlab.text import detect_lang
from textlab.runtime import default_workers

LABELS = ("negative", "positive")


class Predictor:
    """Positive-class probabilities from one loaded model."""

    def __init__(self, loaded: LoadedModel, quantize: bool = False):
        self.loaded = loaded
        self.lang = loaded.config.lang
        self.encoder = loaded.encoder
        self.device = next(loaded.model.parameters()).device
        self.quantize = quantize and self.device.type == "cpu"
        self._model: torch.nn.Module | None = None  # built on first use (in the process that scores)

    @property
    def model(self) -> torch.nn.Module:
        if self._model is None:
            model = self.loaded.model.eval()
            if self.quantize:
                with warnings.catch_warnings():  # torch marks the int8 path as deprecated; it still works
                    warnings.simplefilter("ignore")
                    model = torch.ao.quantization.quantize_dynamic(
                        model, {torch.nn.LSTM, torch.nn.GRU, torch.nn.Linear}, dtype=torch.qint8)
            self._model = model
        return self._model

    def encode(self, text: str) -> tuple:
        """(word ids, bag n-gram ids, n-gram-branch ids or None) of one text."""
        return self.encoder.encode(tokenize_one(text, self.lang))

    @torch.inference_mode()
    def score(self, encoded: Sequence[tuple]) -> list[float]:
        batch = collate([e[0] for e in encoded], [e[1] for e in encoded], None,
                        linear=[e[2] for e in encoded]).to(self.device)
        logits, _ = self.model(batch.ids, batch.lengths, ngrams=batch.ngrams, linear=batch.linear)
        return torch.sigmoid(logits).tolist()


Encoded = tuple  # (model key, word ids, bag ids, n-gram-branch ids) for one line, or None for a blank line


class Router:
    """Sends each text to the predictor for its language (``--lang auto`` with the shipped en/zh
    models), or everything to a single predictor. ``encode`` (tokenizing) and ``score`` (the
    model, lines of similar length together) are separate steps."""

    def __init__(self, predictors: dict[str, Predictor], lang: str = "auto"):
        self.predictors = predictors
        self.lang = lang

    def warm_up(self) -> None:
        """Load the English tokenizer (a slow first import). jieba stays lazy: it loads its
        dictionary in the process that meets the first Chinese line."""
        for predictor in self.predictors.values():
            if predictor.lang == "en":
                predictor.encode("warm up")

    def on_cpu(self) -> bool:
        return all(p.device.type == "cpu" for p in self.predictors.values())

    def pick(self, text: str) -> str:
        if len(self.predictors) == 1:
            return next(iter(self.predictors))
        lang = detect_lang(text) if self.lang == "auto" else self.lang
        return lang if lang in self.predictors else next(iter(self.predictors))

    def encode(self, texts: Sequence[str]) -> list[Encoded | None]:
        result: list[Encoded | None] = []
        for text in texts:
            if not text.strip():
                result.append(None)
                continue
            key = self.pick(text)
            result.append((key, *self.predictors[key].encode(text)))
        return result

    def score(self, encoded: Sequence[Encoded | None], chunk: int = 512) -> list[float | None]:
        results: list[float | None] = [None] * len(encoded)
        groups: dict[str, list[int]] = {}
        for i, item in enumerate(encoded):
            if item is not None:
                groups.setdefault(item[0], []).append(i)
        for key, index in groups.items():
            index.sort(key=lambda i: len(encoded[i][1]))  # similar lengths together
            for start in range(0, len(index), chunk):
                part = index[start : start + chunk]
                for i, p in zip(part, self.predictors[key].score([encoded[i][1:] for i in part])):
                    results[i] = p
        return results

    def probabilities(self, texts: Sequence[str]) -> list[float | None]:
        return self.score(self.encode(texts))


# --------------------------------------------------------------------------- parallel scoring

_worker_router: Router | None = None


def _init_worker() -> None:
    torch.set_num_threads(1)  # one core per worker process
    # Ctrl-C reaches the whole process group: the parent stops the pool; a worker that raised
    # KeyboardInterrupt itself would only print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _score_in_worker(texts: list[str]) -> list[float | None]:
    assert _worker_router is not None
    return _worker_router.probabilities(texts)


def parallel_probabilities(router: Router, batches: Iterable[list[str] | None], workers: int | None = None,
                           in_flight: int | None = None) -> Iterator[tuple[list[str], list[float | None]]]:
    """``(batch, probabilities)`` in input order. On CPU, batches are tokenized and scored in
    ``workers`` forked processes (one torch thread each), at most ``in_flight`` batches ahead
    (constant memory); a ``None`` in ``batches`` (the input paused) hands on every result so
    far. Without fork, on GPU, or with one worker, everything runs in this process."""
    global _worker_router
    workers = default_workers() if workers is None else workers
    if workers < 2 or not router.on_cpu() or "fork" not in multiprocessing.get_all_start_methods():
        for batch in batches:
            if batch is not None:
                yield batch, router.probabilities(batch)
        return
    in_flight = in_flight or 2 * workers
    router.warm_up()  # import the English tokenizer once here, not once per worker
    _worker_router = router  # inherited by the forked workers (the model is built there)
    context = multiprocessing.get_context("fork")
    with context.Pool(workers, initializer=_init_worker) as pool:
        pending: deque = deque()
        for batch in batches:
            if batch is not None:
                pending.append((batch, pool.apply_async(_score_in_worker, (batch,))))
            while pending and (batch is None or len(pending) >= in_flight or pending[0][1].ready()):
                done, job = pending.popleft()
                yield done, job.get()
        while pending:
            done, job = pending.popleft()
            yield done, job.get()


def format_result(text: str, probability: float | None, as_json: bool) -> str:
    if probability is None:
        return json.dumps({"label": None, "probability": None}) if as_json else ""
    label = LABELS[int(probability >= 0.5)]
    confidence = probability if probability >= 0.5 else 1.0 - probability
    if as_json:
        return json.dumps({"label": label, "probability": round(confidence, 4),
                           "positive": round(probability, 4)}, ensure_ascii=False)
    return f"{label}\t{confidence:.4f}"


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


def predict_stream(results: Iterable[tuple[list[str], list[float | None]]], as_json: bool, out: TextIO) -> int:
    """Print one result line per input line, flushing after each batch."""
    count = 0
    for batch, probabilities in results:
        out.write("".join(format_result(t, p, as_json) + "\n" for t, p in zip(batch, probabilities)))
        out.flush()
        count += len(batch)
    return count
