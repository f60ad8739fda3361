"""Inference: batched probabilities for lists of texts, and streaming over stdin (results are
printed batch by batch while input is still arriving; memory stays constant).

Lines are routed to the model of their language (:class:`Router`). On the CPU, batches are
tokenized and scored in forked worker processes (one torch thread each). On CUDA the workers
only tokenize and encode; this process scores large batches on the device, copied from pinned
memory, with one transfer back per batch of results.

Dynamic int8 quantisation of the LSTM/linear layers is available (``Predictor(quantize=True)``)
but off by default: measured on the shipped models it scored no faster than float32 on one
CPU thread, so it is not worth its rounding (the figures are in the README's sentiment table)."""

from __future__ import annotations

import itertools
import json
import multiprocessing
import signal
import warnings
from collections import deque
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence, TextIO

import numpy as np
import torch

from textlab.sentiment.data import EncodedText, collate, tokenize_one
from textlab.sentiment.pretrained import model_lang
from textlab.sentiment.saved import LoadedModel, load_sentiment, model_name
from textlab.text import detect_lang
from textlab.runtime.device import default_workers, torch_threads

LABELS = ("negative", "positive")
#: Texts scored together: small on the CPU (worker processes share the cores), large on a GPU.
CHUNK = {"cpu": 512, "cuda": 4096}


class Predictor:
    """Positive-class probabilities from one model, on ``device`` (default: where the model was
    loaded, else the CPU). Given a model directory instead of a loaded model, it loads the model
    on first use, so a language that never occurs in the input costs nothing (a one-line English
    review never reads the Chinese model). The model moves to the device on first use, in the
    process that scores."""

    def __init__(self, loaded: LoadedModel | Path, quantize: bool = False, device: torch.device | str | None = None):
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
        self._model: torch.nn.Module | None = None  # built on first use (in the process that scores)

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
        batch = collate([e.sequence for e in encoded], [e.bag for e in encoded], None,
                        ngram_branch=[e.ngram_branch for e in encoded], words=[e.words for e in encoded],
                        pin=self.device.type == "cuda").to(self.device)
        logits, _ = self.model(batch.ids, batch.lengths, bag=batch.bag, ngram_branch=batch.ngram_branch)
        return torch.sigmoid(self.calibration.apply(logits.float(), batch.words)), batch.order

    def score(self, encoded: Sequence[EncodedText]) -> list[float]:
        """Probabilities in the order of ``encoded``."""
        probabilities, order = self.launch(encoded)
        result = [0.0] * len(encoded)
        for row, p in zip(order.tolist(), probabilities.tolist()):
            result[row] = p
        return result


EncodedLine = tuple  # (model key, EncodedText) for one line, or None for a blank line


class Router:
    """Sends each text to the predictor for its language (``lang``: ``auto`` detects it per
    line, ``en``/``zh`` fixes it); ``predictors`` are keyed by the language of their model. A
    line whose language has no predictor goes to the first one, and the first such line of each
    language is reported once (:meth:`report`): a model is never applied silently to text in
    another language. ``encode`` (tokenizing) and ``score`` (the model, lines of similar length
    together) are separate steps."""

    def __init__(self, predictors: dict[str, Predictor], lang: str = "auto",
                 warn: Callable[[str], None] | None = None):
        self.predictors = predictors
        self.lang = lang
        self.warn = warn
        self.mismatched: set[str] = set()  # languages seen without a model of their own, not yet reported
        self.reported: set[str] = set()

    def warm_up(self) -> None:
        """Load the English tokenizer (a slow first import). jieba stays lazy: it loads its
        dictionary in the process that meets the first Chinese line."""
        for predictor in self.predictors.values():
            if predictor.lang == "en":
                predictor.encode("warm up")

    def on_cpu(self) -> bool:
        return all(p.device.type == "cpu" for p in self.predictors.values())

    def describe(self) -> str:
        """One line: which model answers for which language."""
        from textlab.store.shipped import SHIPPED_PREFIX

        def who(p: Predictor) -> str:
            return p.name if p.name.startswith(SHIPPED_PREFIX) else f"{p.name} (user model)"

        return "sentiment: " + ", ".join(f"{lang} -> {who(p)}" for lang, p in self.predictors.items())

    def pick(self, text: str) -> str:
        lang = detect_lang(text) if self.lang == "auto" else self.lang
        if lang in self.predictors:
            return lang
        if lang not in self.reported:
            self.mismatched.add(lang)
        return next(iter(self.predictors))

    def report(self) -> None:
        """Warn once per language about lines answered by a model of another language."""
        for lang in sorted(self.mismatched - self.reported):
            key = next(iter(self.predictors))
            message = (f"sentiment: warning: {lang} lines are answered by {self.predictors[key].name}, "
                       f"a {key} model (no {lang} model in use; without --model each language gets its own)")
            if self.warn is not None:
                self.warn(message)
            self.reported.add(lang)
        self.mismatched.clear()

    def encode(self, texts: Sequence[str]) -> list[EncodedLine | None]:
        result: list[EncodedLine | None] = []
        for text in texts:
            if not text.strip():
                result.append(None)
                continue
            key = self.pick(text)
            result.append((key, self.predictors[key].encode(text)))
        return result

    def score(self, encoded: Sequence[EncodedLine | None], chunk: int | None = None) -> list[float | None]:
        """Probabilities in the order of ``encoded``: every chunk is launched first, then the
        results are read (on CUDA the device works while the next chunk is being prepared)."""
        results: list[float | None] = [None] * len(encoded)
        groups: dict[str, list[int]] = {}
        for i, item in enumerate(encoded):
            if item is not None:
                groups.setdefault(item[0], []).append(i)
        launched = []
        for key, index in groups.items():
            predictor = self.predictors[key]
            size = chunk or CHUNK.get(predictor.device.type, CHUNK["cpu"])
            index.sort(key=lambda i: len(encoded[i][1].sequence))  # similar lengths together
            for start in range(0, len(index), size):
                part = index[start: start + size]
                launched.append((part, *predictor.launch([encoded[i][1] for i in part])))
        for part, probabilities, order in launched:
            for row, p in zip(order.tolist(), probabilities.tolist()):
                results[part[row]] = p
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


def _score_in_worker(texts: list[str]) -> tuple[list[float | None], list[str]]:
    assert _worker_router is not None
    probabilities = _worker_router.probabilities(texts)
    mismatched, _worker_router.mismatched = sorted(_worker_router.mismatched), set()
    return probabilities, mismatched


def _encode_in_worker(texts: list[str]) -> tuple[list[EncodedLine | None], list[str]]:
    assert _worker_router is not None
    encoded = _worker_router.encode(texts)
    mismatched, _worker_router.mismatched = sorted(_worker_router.mismatched), set()
    return encoded, mismatched


def inference_workers(on_cpu: bool) -> int:
    """Worker processes by default: one per core on the CPU (they score too); on CUDA one per
    core but one (this process scores on the device), so tokenizing keeps up with the GPU."""
    return default_workers() if on_cpu else max(1, default_workers(cap=64) - 1)


def _whole_input(batches: Iterable[list[str] | None]) -> tuple[Iterator[list[str] | None], bool]:
    """``(the same batches, whether that is the whole input)``: True when the input ended within
    its first batch (``echo "..." | textlab sentiment``). Such an input is scored in this process:
    starting worker processes would cost more than the few lines they would share."""
    batches = iter(batches)
    head = list(itertools.islice(batches, 2))
    whole = len(head) == 1 and head[0] is not None
    return itertools.chain(head, batches), whole


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
    batches, whole = _whole_input(batches)
    if whole or workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        # One torch thread on a CPU: a few lines gain nothing from two, and when another process
        # keeps the cores busy two OpenMP threads wait on each other (one line: 0.25 s, not 1 ms).
        with torch_threads(1 if on_cpu else 0):
            for batch in batches:
                if batch is not None:
                    probabilities = router.probabilities(batch)
                    router.report()
                    yield batch, probabilities
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
                values, mismatched = job.get()
                router.mismatched.update(set(mismatched) - router.reported)
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


def format_result(text: str, probability: float | None, as_json: bool) -> str:
    if probability is None:
        return json.dumps({"label": None, "probability": None}) if as_json else ""
    label = LABELS[int(probability >= 0.5)]
    confidence = probability if probability >= 0.5 else 1.0 - probability
    if as_json:
        return json.dumps({"label": label, "probability": round(confidence, 4),
                           "positive": round(probability, 4)}, ensure_ascii=False)
    return f"{label}\t{confidence:.4f}"


def predict_stream(results: Iterable[tuple[list[str], list[float | None]]], as_json: bool, out: TextIO) -> int:
    """Print one result line per input line, flushing after each batch."""
    count = 0
    for batch, probabilities in results:
        out.write("".join(format_result(t, p, as_json) + "\n" for t, p in zip(batch, probabilities)))
        out.flush()
        count += len(batch)
    return count
