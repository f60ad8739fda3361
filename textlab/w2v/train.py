"""The training loop: the id file is cut into chunks of ``CHUNK_WORDS`` positions (the plan of
:mod:`textlab.w2v.plan`); each (epoch, chunk) pair is a work item that an engine trains with a
learning rate decaying linearly to ~0 over all epochs; Ctrl-C saves a resumable checkpoint.

Two engines train a chunk:

- ``hogwild`` (CPU): worker threads, one per core, each running the compiled word-by-word
  loop of :mod:`textlab.w2v.kernels` on its own chunks while sharing the model's two numpy
  matrices without locks, as gensim's threads and word2vec C do. One worker is
  bit-reproducible. It never imports torch.
- ``device`` (any torch device, the default on CUDA): :mod:`textlab.w2v.engine`, large steps
  of tensor operations with no host synchronisation inside a chunk.

Work items are numbered ``epoch * chunks + chunk``; worker ``w`` of ``n`` trains items
``w, w + n, ...`` and ``cursors[w]`` is its next one, so a resumed run continues exactly
where each worker stopped.
"""

from __future__ import annotations

import dataclasses
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from textlab.runtime.checkpoints import load_checkpoint, save_checkpoint
from textlab.runtime.device import default_workers
from textlab.runtime.progress import ProgressBar
from textlab.runtime.signals import StopRequest
from textlab.w2v.config import initial_lr
from textlab.w2v.corpus import EncodedCorpus
from textlab.w2v.model import Word2Vec, Word2VecConfig
from textlab.w2v.plan import Plan, chunk_seed, make_plan
from textlab.w2v.sampling import NoiseSampler, alias_tables, keep_probabilities

if TYPE_CHECKING:
    import torch

    from textlab.distributed import Distributed

ENGINES = ("hogwild", "device")


@dataclass
class TrainState:
    """Where training stands (see the module docstring for the work items)."""

    cursors: list[int] = field(default_factory=lambda: [0])
    words_done: int = 0
    loss_sum: float = 0.0
    pairs: int = 0
    seconds: float = 0.0
    syncs: int = 0  # distributed: synchronisations of the matrices done, and their seconds
    sync_seconds: float = 0.0
    history: list = field(default_factory=list)  # [epoch position, mean loss] per progress interval
    engine_info: dict = field(default_factory=dict)  # what the engine reports of the last run (the card's metrics)


class Interrupted(Exception):
    """Raised by :func:`train` after the checkpoint is written, carrying the signal number."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def learning_rate(config: Word2VecConfig, done: float, total: float) -> float:
    return max(config.min_lr, config.lr * (1.0 - done / max(total, 1.0)))


class Shared:
    """Counters the workers update and the main thread reads."""

    def __init__(self, state: TrainState, stop_after: int | None):
        self.lock = threading.Lock()
        self.cursors = list(state.cursors)
        self.words_done = state.words_done
        self.loss = state.loss_sum
        self.pairs = state.pairs
        self.items = 0
        self.stop_after = stop_after or 0
        self.stop = threading.Event()
        self.failure: BaseException | None = None
        self.points: list[tuple[int, object, object]] = []  # (words done, chunk loss, chunk pairs) not yet drawn

    def finished(self, worker: int, item: int, words: int, loss, pairs, workers: int) -> None:
        with self.lock:
            self.words_done += words
            self.loss += loss
            self.pairs += pairs
            self.points.append((self.words_done, loss, pairs))
            self.items += 1
            self.cursors[worker] = item + workers
            if self.stop_after and self.items >= self.stop_after:
                self.stop.set()


def make_engine(name: str, model: Word2Vec, corpus: EncodedCorpus, plan: Plan, device: torch.device | str = "cpu"):
    keep = keep_probabilities(corpus.vocab.counts, model.config.sample)
    if name == "device":
        from textlab.w2v.engine import DeviceEngine

        return DeviceEngine(model, corpus, keep, NoiseSampler(corpus.vocab.counts), plan, device=device)
    if str(device).split(":")[0] != "cpu":
        raise ValueError("the hogwild engine trains on the CPU")
    return HogwildEngine(model, corpus, keep, alias_tables(corpus.vocab.counts), plan)


def train(
    model: Word2Vec,
    corpus: EncodedCorpus,
    state: TrainState | None = None,
    stop: StopRequest | None = None,
    checkpoint_dir: Path | None = None,
    checkpoint_extra: dict | None = None,
    stop_after_chunks: int | None = None,
    dist: Distributed | None = None,
    sync: str = "sum",
    sync_every: int = 1,
    engine: str = "hogwild",
    device: torch.device | str = "cpu",
) -> TrainState:
    """Train ``model`` on ``corpus`` from ``state`` (a fresh run when None) with the ``engine``
    (the hogwild engine runs ``len(state.cursors)`` worker threads on the CPU; the device
    engine runs on ``device``). The model's arrays hold the trained matrices on return.

    When ``stop`` becomes true (or after ``stop_after_chunks`` chunks, for tests) the state is
    checkpointed to ``checkpoint_dir`` and :class:`Interrupted` is raised.

    With ``dist`` (a torchrun job) each rank trains its own contiguous share of the id file
    with one worker; every ``sync_every`` chunks all ranks combine both matrices (``sync``, see
    :data:`SYNC_MODES`; a last combination ends training), and the learning rate follows the
    global word count estimated as ``world_size x`` local words done."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}")
    if not model.config.lr:  # the default rate depends on the architecture; the card and checkpoint record the rate used
        model.config = dataclasses.replace(model.config, lr=initial_lr(model.config))
    config = model.config
    workers = 1 if engine == "device" or dist is not None else (config.workers or default_workers())
    state = state or TrainState(cursors=list(range(workers)))
    plan = make_plan(corpus, config, len(state.cursors), dist)
    trainer = make_engine(engine, model, corpus, plan, device)
    shared = Shared(state, None if dist else stop_after_chunks)
    started = time.perf_counter() - state.seconds
    with ProgressBar(plan.total_words, f"train {config.arch}", unit="words") as bar:
        progress = _Progress(bar, shared, plan, config, state.history, started)
        if getattr(trainer, "info", {}).get("compile_seconds"):
            bar.update(compiled=f"{trainer.info['compile_seconds']:.0f}s")
        if dist is not None:
            combine = _Sync(dist, trainer.torch_matrices(), shared, state, stop, sync, sync_every, plan.items)
            _work(0, trainer, plan, shared, config, after_item=lambda: (combine(), progress.show(None)))
        elif plan.workers == 1 and engine == "device":
            _work(0, trainer, plan, shared, config, after_item=lambda: progress.show(stop, every=0.25))
            progress.show(stop)
        else:
            _run_threads(trainer, plan, shared, config, progress, stop)
    trainer.finish()
    state = TrainState(cursors=list(shared.cursors), words_done=shared.words_done, loss_sum=float(shared.loss),
                       pairs=int(shared.pairs), seconds=time.perf_counter() - started,
                       syncs=state.syncs, sync_seconds=state.sync_seconds, history=progress.history,
                       engine_info=getattr(trainer, "info", {}))
    if any(cursor < plan.items for cursor in state.cursors):
        if checkpoint_dir is not None:
            save_training_checkpoint(checkpoint_dir, model, state, checkpoint_extra or {})
        raise Interrupted(stop.signum if stop else signal.SIGINT)
    return state


class HogwildEngine:
    """Chunks trained by the compiled word-by-word loop (:mod:`textlab.w2v.kernels`), several
    threads at a time on the model's matrices, in place."""

    name = "hogwild"

    def __init__(self, model: Word2Vec, corpus: EncodedCorpus, keep: np.ndarray, noise: tuple[np.ndarray, np.ndarray],
                 plan: Plan):
        from textlab.w2v import kernels

        for name in ("vectors", "context"):
            matrix = getattr(model, name)
            if matrix.dtype != np.float32 or not matrix.flags.c_contiguous or not matrix.flags.writeable:
                raise ValueError(f"the hogwild engine trains writable C-contiguous float32 matrices ({name})")
        self.model, self.corpus, self.plan, self.kernels = model, corpus, plan, kernels
        self.vectors, self.context = model.vectors, model.context
        self.keep = keep.astype(np.float32)
        self.accept, self.alias = noise
        self.tables = kernels.sigmoid_tables()
        kernels.load()

    def torch_matrices(self):
        """The matrices as CPU tensors sharing their memory (distributed synchronisation)."""
        import torch

        return torch.from_numpy(self.vectors), torch.from_numpy(self.context)

    def train_item(self, item: int, lr_start: float, lr_end: float) -> tuple[float, int, int]:
        epoch, chunk, begin, end = self.plan.positions(item)
        raw = self.corpus.read(begin, end)
        config = self.model.config
        seed = chunk_seed(config.seed, epoch, chunk, self.plan.rank)
        loss, pairs, _kept = self.kernels.train_chunk(
            raw.astype(self.kernels.ID_DTYPE, copy=False), self.corpus.separator, self.vectors, self.context,
            self.keep, self.accept, self.alias, config.window, config.negative, float(lr_start), float(lr_end),
            np.uint64(seed), config.arch == "cbow", *self.tables)
        return loss, pairs, int(raw.size - np.count_nonzero(raw == self.corpus.separator))

    def finish(self) -> None:
        pass


class _Progress:
    """Updates the bar and records the loss curve: one point (epoch position, mean loss per
    pair) per chunk trained."""

    def __init__(self, bar: ProgressBar, shared: Shared, plan: Plan, config: Word2VecConfig, history: list,
                 started: float):
        self.bar, self.shared, self.plan, self.config, self.started = bar, shared, plan, config, started
        self.history = [list(point) for point in history]
        self.last_loss, self.last_pairs = float(shared.loss), int(shared.pairs)
        self.first_done, self.first_time = shared.words_done, time.perf_counter()
        self.drawn = 0.0
        bar.update(completed=shared.words_done * plan.scale)

    def show(self, stop: StopRequest | None, every: float = 0.0) -> None:
        """Draws progress and records the loss curve; with ``every``, at most once per ``every``
        seconds (the device engine's losses are device tensors: reading them waits for the
        device, which a call after every chunk would do far too often on a GPU)."""
        shared = self.shared
        if stop:
            shared.stop.set()
        now = time.perf_counter()
        if every and now - self.drawn < every:
            return
        self.drawn = now
        with shared.lock:
            loss, pairs, words, points = shared.loss, shared.pairs, shared.words_done, shared.points
            shared.points = []
        loss, pairs = float(loss), int(pairs)  # device engine: its tensors are read here, not per step
        done = words * self.plan.scale
        total = max(self.plan.total_words, 1)
        fields = {"epoch": f"{min(done * self.config.epochs // total + 1, self.config.epochs)}/{self.config.epochs}"}
        for at, chunk_loss, chunk_pairs in points:
            if int(chunk_pairs) > 0:
                position = at * self.plan.scale * self.config.epochs / total
                self.history.append([round(position, 4), round(float(chunk_loss) / int(chunk_pairs), 5)])
        if pairs > self.last_pairs:
            fields["loss"] = (loss - self.last_loss) / (pairs - self.last_pairs)
            self.last_loss, self.last_pairs = loss, pairs
        seconds = time.perf_counter() - self.first_time
        rate = (words - self.first_done) * self.plan.scale / seconds if seconds > 0 and words > self.first_done else None
        self.bar.update(completed=done, rate=rate, **fields)


#: How ranks combine their matrices after every chunk: "sum" adds up every rank's change since
#: the last synchronisation (as Hogwild workers on one machine do); "average" is plain model
#: averaging, which divides each rank's update by the number of ranks (measured: worse quality).
SYNC_MODES = ("sum", "average")


class _Sync:
    """After every chunk: agree on stopping (a signal seen by any rank stops all of them at the
    same chunk); every ``every`` chunks, at the end and before stopping, combine both matrices."""

    def __init__(self, dist: Distributed, matrices: tuple[torch.Tensor, torch.Tensor], shared: Shared,
                 state: TrainState, stop: StopRequest | None, mode: str, every: int, items: int):
        self.dist, self.shared, self.state, self.stop, self.mode = dist, shared, state, stop, mode
        self.every, self.items = max(1, every), items
        self.matrices = matrices  # the engine's live matrices (on its device)
        # "sum": the matrices as of the last synchronisation (one more copy of the model)
        self.synced = tuple(m.clone() for m in self.matrices) if mode == "sum" else ()

    def __call__(self) -> None:
        stopping = self.dist.any(bool(self.stop))
        done = self.shared.cursors[0]  # chunks trained by this (single-worker) rank
        if stopping or done >= self.items or done % self.every == 0:
            self.combine()
        if stopping:
            self.shared.stop.set()

    def combine(self) -> None:
        started = time.perf_counter()
        if self.mode == "sum":
            for matrix, synced in zip(self.matrices, self.synced):
                matrix.sub_(synced)  # this rank's change...
                self.dist.sum_(matrix)  # ...summed over ranks
                synced.add_(matrix)
                matrix.copy_(synced)
        else:
            self.dist.average_(*self.matrices)
        self.state.syncs += 1
        self.state.sync_seconds += time.perf_counter() - started


def _run_threads(trainer, plan: Plan, shared: Shared, config: Word2VecConfig, progress: _Progress,
                 stop: StopRequest | None) -> None:
    """Worker threads train; this (main) thread draws progress and receives the signals."""

    def run(worker: int) -> None:
        try:
            _work(worker, trainer, plan, shared, config)
        except BaseException as exc:  # handed to the main thread, which re-raises it
            shared.failure = exc
            shared.stop.set()

    threads = [threading.Thread(target=run, args=(w,), name=f"w2v-worker-{w}", daemon=True)
               for w in range(plan.workers)]
    for thread in threads:
        thread.start()
    try:
        while any(thread.is_alive() for thread in threads):
            progress.show(stop)
            for thread in threads:
                thread.join(timeout=0.25 / len(threads))
    finally:
        shared.stop.set()
        for thread in threads:
            thread.join()
    progress.show(stop)
    if shared.failure is not None:
        raise shared.failure


def _work(worker: int, trainer, plan: Plan, shared: Shared, config: Word2VecConfig, after_item=None) -> None:
    """Train this worker's items in order until done or told to stop."""
    while shared.cursors[worker] < plan.items and not shared.stop.is_set():
        item = shared.cursors[worker]
        _epoch, _chunk, begin, end = plan.positions(item)
        done = shared.words_done * plan.scale
        # the chunk's words are not known before it is read: its positions stand in for them
        lr_start = learning_rate(config, done, plan.total_words)
        lr_end = learning_rate(config, done + (end - begin) * plan.scale, plan.total_words)
        loss, pairs, words = trainer.train_item(item, lr_start, lr_end)
        shared.finished(worker, item, words, loss, pairs, plan.workers)
        if after_item is not None:
            after_item()


# --------------------------------------------------------------------------- checkpoints


def save_training_checkpoint(directory: Path, model: Word2Vec, state: TrainState, extra: dict) -> None:
    save_checkpoint(directory, {
        "config": dataclasses.asdict(model.config),
        "state": dataclasses.asdict(state),
        "vectors": model.vectors,
        "context": model.context,
        "extra": extra,
    }, kind="word2vec")


def load_training_checkpoint(directory: Path) -> dict:
    """The checkpoint, its matrices as numpy arrays (no torch)."""
    return load_checkpoint(directory, framework="numpy", kind="word2vec")

