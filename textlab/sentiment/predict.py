"""Inference: batched probabilities for lists of texts, and streaming over stdin (results are
printed batch by batch while input is still arriving; memory stays constant).

Lines are routed to the model of their language (:class:`Router`). On the CPU, batches are
tokenized and scored in forked worker processes (one torch thread each). On CUDA the workers
only tokenize and encode; this process scores large batches on the device, copied from pinned
memory, with one transfer back per batch of results.

Dynamic int8 quantisation of the LSTM/linear layers is available (``Predictor(quantize=True)``)
but off by default: measured on the shipped models it scored no faster than float32 on one
CPU thread, so it is not worth its rounding (the figures are in the README's sentiment table).

On a CPU, a Predictor scores in float32 or in bfloat16 autocast, whichever it measures faster on
its first batch (:meth:`Predictor.choose_precision`: a few dozen reviews timed both ways, warm;
bf16 must win by :data:`BF16_MARGIN`). A CPU with native bf16 (avx512_bf16, AMX) runs a 1x256 LSTM
1.7x faster so; one without it emulates bf16 and keeps float32. The accuracy is the same to the
third decimal (README, sentiment)."""

from __future__ import annotations

import multiprocessing
import signal
import warnings
from collections import deque
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import torch

from textlab.sentiment.data import EncodedText, collate, tokenize_one
from textlab.sentiment.pretrained import model_lang
from textlab.sentiment.saved import LoadedModel, load_sentiment, model_name
from textlab.sentiment.routing import (  # noqa: F401  (names kept here)
    CHUNK, LABELS, EncodedLine, Router, format_result, in_process, predict_stream, whole_input,
)
from textlab.runtime.device import autocast, default_workers, torch_threads

#: CPU inference precisions; "auto" measures both on the first batch.
PRECISIONS = ("auto", "fp32", "bf16")
#: bf16 is taken only when it scores the probe this much faster (a tie keeps float32's exactness).
BF16_MARGIN = 1.15
#: Reviews the precision probe times (each way, after a warm-up run of each).
PROBE_REVIEWS = 48
#: A scored batch's rows and steps are rounded up to multiples of this. Each distinct input
#: shape costs oneDNN a cached primitive on the CPU (up to 1,024 kept; a plan in cuDNN), so
#: ragged batches from a long stdin (a few reviews between blank lines, each a new rows x steps
#: pair) grew a scoring worker's memory by ~5 MB over 576,018 lines before; with 8 the shapes
#: are at most 8 x (steps / 8) per model (README: "Memory").
SHAPE_MULTIPLE = 8


class Predictor:
    """Positive-class probabilities from one model, on ``device`` (default: where the model was
    loaded, else the CPU). Given a model directory instead of a loaded model, it loads the model
    on first use, so a language that never occurs in the input costs nothing (a one-line English
    review never reads the Chinese model). The model moves to the device on first use, in the
    process that scores."""

    def __init__(self, loaded: LoadedModel | Path, quantize: bool = False, device: torch.device | str | None = None,
                 precision: str = "auto"):
        if isinstance(loaded, LoadedModel):
            self._loaded: LoadedModel | None = loaded
            self.path, self.lang = loaded.path, loaded.config.lang
            where = next(loaded.model.parameters()).device
        else:
            self._loaded, self.path = None, Path(loaded)
            self.lang = model_lang(self.path)
            where = torch.device("cpu")
        self.device = torch.device(device) if device is not None else where
        self.quantize = quantize and self.device.type == "cpu"
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; use {', '.join(PRECISIONS)}")
        # CUDA and int8 score as they are; "auto" on a CPU is settled by the first batch
        self.precision = precision if self.device.type == "cpu" and not self.quantize else "fp32"
        self.probe: dict[str, float] = {}  # seconds per precision of the probe, once measured
        self._model: torch.nn.Module | None = None  # built on first use (in the process that scores)

    @property
    def device_type(self) -> str:
        return self.device.type

    @property
    def loaded(self) -> LoadedModel:
        if self._loaded is None:
            self._loaded = load_sentiment(self.path)
        return self._loaded

    @property
    def encoder(self):
        return self.loaded.encoder

    @property
    def calibration(self):
        return self.loaded.calibration

    @property
    def name(self) -> str:
        return model_name(self.path)

    @property
    def model(self) -> torch.nn.Module:
        if self._model is None:
            model = self.loaded.model.eval().to(self.device)
            if self.quantize:
                with warnings.catch_warnings():  # torch marks the int8 path as deprecated; it still works
                    warnings.simplefilter("ignore")
                    model = torch.ao.quantization.quantize_dynamic(
                        model, {torch.nn.LSTM, torch.nn.GRU, torch.nn.Linear}, dtype=torch.qint8)
            self._model = model
        return self._model

    def encode(self, text: str) -> EncodedText:
        """Word ids, bag ids, n-gram-branch ids and the word count of one text."""
        return self.encoder.encode(tokenize_one(text, self.lang))

    @torch.inference_mode()
    def launch(self, encoded: Sequence[EncodedText]) -> tuple[torch.Tensor, np.ndarray]:
        """Start scoring (asynchronous on CUDA): (probabilities on the device in the batch's
        row order, ``order``: row r is ``encoded[order[r]]``)."""
        if self.precision == "auto" and len(encoded) >= PROBE_REVIEWS:  # a smaller batch would time noise
            self.choose_precision(encoded[:PROBE_REVIEWS])
        batch = self._collate(rounded_rows(encoded, SHAPE_MULTIPLE))
        logits = self._forward(batch, "fp32" if self.precision == "auto" else self.precision)
        count = len(encoded)  # the copies added by rounded_rows are the last rows: dropped
        return torch.sigmoid(self.calibration.apply(logits.float(), batch.words))[:count], batch.order[:count]

    def _forward(self, batch, precision: str) -> torch.Tensor:
        """The mixed logits of a collated batch in ``precision`` (fp32, or bf16 autocast)."""
        with autocast(self.device, precision):
            return self.model(batch.ids, batch.lengths, bag=batch.bag, ngram_branch=batch.ngram_branch,
                              words=batch.words)[0]

    def _collate(self, encoded: Sequence[EncodedText]):
        return collate([e.sequence for e in encoded], [e.bag for e in encoded], None,
                       ngram_branch=[e.ngram_branch for e in encoded], words=[e.words for e in encoded],
                       pin=self.device.type == "cuda", step_multiple=SHAPE_MULTIPLE).to(self.device)

    @torch.inference_mode()
    def choose_precision(self, encoded: Sequence[EncodedText]) -> str:
        """Score ``encoded`` in float32 and in bf16 autocast, each once to warm up and once
        timed, and keep bf16 only if it was :data:`BF16_MARGIN` times faster."""
        import time

        batch = self._collate(encoded)
        for _round in range(2):
            for precision in ("fp32", "bf16"):
                started = time.perf_counter()
                self._forward(batch, precision)
                self.probe[precision] = time.perf_counter() - started
        self.precision = pick_precision(self.probe)
        return self.precision

    def score(self, encoded: Sequence[EncodedText]) -> list[float]:
        """Probabilities in the order of ``encoded``."""
        probabilities, order = self.launch(encoded)
        result = [0.0] * len(encoded)
        for row, p in zip(order.tolist(), probabilities.tolist()):
            result[row] = p
        return result


def rounded_rows(encoded: Sequence[EncodedText], multiple: int) -> list[EncodedText]:
    """``encoded`` and copies of its shortest text up to a multiple of ``multiple`` rows.
    :func:`collate` sorts rows longest first and keeps equal lengths in list order, so the
    copies become the batch's last rows."""
    encoded = list(encoded)
    if encoded and len(encoded) % multiple:
        shortest = min(encoded, key=lambda e: len(e.sequence))
        encoded += [shortest] * (multiple - len(encoded) % multiple)
    return encoded


def pick_precision(seconds: dict[str, float]) -> str:
    """bf16 when its probe took :data:`BF16_MARGIN` times less than float32's, else fp32."""
    return "bf16" if seconds["fp32"] >= BF16_MARGIN * seconds["bf16"] else "fp32"


# --------------------------------------------------------------------------- parallel scoring

_worker_router: Router | None = None


def _init_worker() -> None:
    torch.set_num_threads(1)  # one core per worker process
    # Ctrl-C reaches the whole process group: the parent stops the pool; a worker that raised
    # KeyboardInterrupt itself would only print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _score_in_worker(texts: list[str]) -> tuple[list[float | None], list[tuple[str, str]]]:
    assert _worker_router is not None
    probabilities = _worker_router.probabilities(texts)
    pending, _worker_router.pending = sorted(_worker_router.pending), set()
    return probabilities, pending


def _encode_in_worker(texts: list[str]) -> tuple[list[EncodedLine | None], list[tuple[str, str]]]:
    assert _worker_router is not None
    encoded = _worker_router.encode(texts)
    pending, _worker_router.pending = sorted(_worker_router.pending), set()
    return encoded, pending


def inference_workers(on_cpu: bool) -> int:
    """Worker processes by default: one per core on the CPU (they score too); on CUDA one per
    core but one (this process scores on the device), so tokenizing keeps up with the GPU."""
    return default_workers() if on_cpu else max(1, default_workers(cap=64) - 1)


def parallel_probabilities(router: Router, batches: Iterable[list[str] | None], workers: int | None = None,
                           in_flight: int | None = None) -> Iterator[tuple[list[str], list[float | None]]]:
    """``(batch, probabilities)`` in input order. On the CPU, batches are tokenized and scored
    in ``workers`` forked processes (one torch thread each); on CUDA the workers tokenize and
    encode, and this process scores the encoded batches that are ready together on the device.
    At most ``in_flight`` batches are ahead of the output, so memory stays bounded on an endless
    stream; a ``None`` in ``batches`` (input paused) flushes every batch in flight. With
    ``workers < 2`` (or no fork), or an input that ends within its first batch, everything
    runs in this process."""
    global _worker_router
    on_cpu = router.on_cpu()
    workers = inference_workers(on_cpu) if workers is None else workers
    batches, whole = whole_input(batches)
    if whole or workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        # One torch thread on a CPU: a few lines gain nothing from two, and when another process
        # keeps the cores busy two OpenMP threads wait on each other (one line: 0.25 s, not 1 ms).
        with torch_threads(1 if on_cpu else 0):
            yield from in_process(router, batches)
        return
    in_flight = in_flight or 2 * workers
    router.warm_up()  # import the English tokenizer once here, not once per worker
    _worker_router = router  # inherited by the forked workers (on the CPU the model is built there)
    context = multiprocessing.get_context("fork")
    with context.Pool(workers, initializer=_init_worker) as pool:
        task = _score_in_worker if on_cpu else _encode_in_worker
        pending: deque = deque()

        def finish(count: int) -> Iterator[tuple[list[str], list[float | None]]]:
            """Hand on the first ``count`` pending batches (scored here on CUDA, all at once)."""
            done = [pending.popleft() for _ in range(count)]
            outputs = []
            for batch, job in done:
                values, warnings = job.get()
                router.pending.update(set(warnings) - router.reported)  # (the workers' warnings, said here)
                outputs.append(values)
            if not on_cpu:
                merged = router.score([item for values in outputs for item in values])
                outputs, start = [], 0
                for batch, _ in done:
                    outputs.append(merged[start: start + len(batch)])
                    start += len(batch)
            router.report()
            for (batch, _), probabilities in zip(done, outputs):
                yield batch, probabilities

        for batch in batches:
            if batch is not None:
                pending.append((batch, pool.apply_async(task, (batch,))))
            while pending and (batch is None or len(pending) >= in_flight or pending[0][1].ready()):
                ready = 1
                while ready < len(pending) and pending[ready][1].ready():
                    ready += 1
                yield from finish(ready)
        while pending:
            yield from finish(len(pending))


