"""The training loop: chunks of the corpus are subsampled, windowed and fed as SGD steps with a
learning rate decaying linearly to ~0 over all epochs; Ctrl-C saves a resumable checkpoint."""

from __future__ import annotations

import dataclasses
import multiprocessing
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from textlab.distributed import Distributed
from textlab.runtime import ProgressBar, StopRequest, default_workers, load_checkpoint, save_checkpoint
from textlab.w2v.corpus import EncodedCorpus
from textlab.w2v.model import Word2Vec, Word2VecConfig
from textlab.w2v.sampling import NoiseSampler, keep_probabilities, subsample, window_groups

#: Words per chunk: the unit of subsampling, progress updates and checkpoints.
CHUNK_WORDS = 1 << 17


@dataclass
class TrainState:
    """Where training stands. Work items are (epoch, chunk) pairs numbered ``epoch * chunks +
    chunk``; worker ``w`` of ``n`` trains items ``w, w + n, w + 2n, ...`` and ``cursors[w]`` is
    its next one. With one worker a resumed run repeats the uninterrupted run exactly."""

    cursors: list[int] = field(default_factory=lambda: [0])
    words_done: int = 0
    loss_sum: float = 0.0
    pairs: int = 0
    seconds: float = 0.0
    syncs: int = 0  # distributed: synchronisations of the matrices done, and their seconds
    sync_seconds: float = 0.0
    history: list = field(default_factory=list)  # [epoch position, mean loss] per progress interval


class Interrupted(Exception):
    """Raised by :func:`train` after the checkpoint is written, carrying the signal number."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def learning_rate(config: Word2VecConfig, done: float, total: float) -> float:
    return max(config.min_lr, config.lr * (1.0 - done / max(total, 1.0)))


def _rng(seed: int, epoch: int, chunk: int, rank: int = 0) -> tuple[np.random.Generator, torch.Generator]:
    """Random streams that depend only on (seed, epoch, chunk[, rank]), so a resumed run draws the same."""
    numpy_rng = np.random.default_rng([seed, epoch, chunk] + ([rank] if rank else []))
    torch_rng = torch.Generator().manual_seed(int(numpy_rng.integers(2**62)))
    return numpy_rng, torch_rng


class _Shared:
    """Counters the workers update and the parent reads (process-shared)."""

    def __init__(self, context, state: TrainState, stop_after: int | None):
        self.cursors = context.Array("q", state.cursors)
        self.words_done = context.Value("q", state.words_done)
        self.loss = context.Value("d", state.loss_sum)
        self.pairs = context.Value("q", state.pairs)
        self.items = context.Value("q", 0)
        self.stop_after = stop_after or 0
        self.stop = context.Event()


@dataclass
class _Plan:
    chunks: int
    items: int
    total_words: int  # over all ranks
    workers: int
    rank: int = 0
    scale: int = 1  # ranks: the global word count is estimated as scale x local words done


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
) -> TrainState:
    """Train ``model`` on ``corpus`` from ``state`` (a fresh run when None) with
    ``len(state.cursors)`` Hogwild workers (forked processes sharing the two matrices).

    When ``stop`` becomes true (or after ``stop_after_chunks`` chunks, for tests) the state is
    checkpointed to ``checkpoint_dir`` and :class:`Interrupted` is raised.

    With ``dist`` (a torchrun job) each rank trains its own shard in one process; every
    ``sync_every`` chunks all ranks combine both matrices (``sync``, see :data:`SYNC_MODES`; a
    last combination ends training), and the learning rate follows the global word count estimated as
    ``world_size x`` local words done."""
    config = model.config
    workers = 1 if model.vectors.device.type != "cpu" else config.workers or default_workers()
    if "fork" not in multiprocessing.get_all_start_methods() or dist is not None:
        workers = 1  # the workers share the matrices by inheriting them
    state = state or TrainState(cursors=list(range(workers)))
    chunks = max(1, -(-corpus.num_words // CHUNK_WORDS))
    plan = _Plan(chunks, config.epochs * chunks, config.epochs * corpus.num_words, len(state.cursors))
    if dist is not None:  # every rank runs the same number of chunks, so the synchronisations pair up
        chunks, words = dist.all_reduce([chunks, corpus.num_words], "max"), dist.all_reduce([corpus.num_words], "sum")
        plan = _Plan(int(chunks[0]), config.epochs * int(chunks[0]), config.epochs * int(words[0]), 1,
                     rank=dist.rank, scale=dist.world_size)
    keep = keep_probabilities(corpus.vocab.counts, config.sample)
    noise = NoiseSampler(corpus.vocab.counts)
    started = time.perf_counter() - state.seconds
    threads = torch.get_num_threads()
    if model.vectors.device.type == "cpu":
        # One thread per worker: steps are small, and OpenMP threads spinning on shared cores cost 10x.
        torch.set_num_threads(1)
    context = multiprocessing.get_context("fork" if plan.workers > 1 else None)
    shared = _Shared(context, state, None if dist else stop_after_chunks)
    args = (model, corpus, plan, shared, keep, noise)
    try:
        with ProgressBar(plan.total_words, f"train {config.arch}", unit="words") as bar:
            progress = _Progress(bar, shared, plan, config, state.history)
            if dist is not None:
                combine = _Sync(dist, model, shared, state, stop, sync, sync_every, plan.items)
                _work(0, *args, after_item=lambda: (combine(), progress.show(None)))
            elif plan.workers == 1:
                _work(0, *args, after_item=lambda: progress.show(stop))
            else:
                _run_processes(context, args, progress, stop)
    finally:
        torch.set_num_threads(threads)
    state = TrainState(cursors=list(shared.cursors), words_done=shared.words_done.value, loss_sum=shared.loss.value,
                       pairs=shared.pairs.value, seconds=time.perf_counter() - started,
                       syncs=state.syncs, sync_seconds=state.sync_seconds, history=progress.history)
    if any(cursor < plan.items for cursor in state.cursors):
        if checkpoint_dir is not None:
            save_training_checkpoint(checkpoint_dir, model, state, checkpoint_extra or {})
        raise Interrupted(stop.signum if stop else signal.SIGINT)
    return state


class _Progress:
    """Updates the bar and records the loss curve: one point (epoch position, mean loss per
    pair) whenever chunks have finished since the last update (the workers add their loss per
    chunk)."""

    def __init__(self, bar: ProgressBar, shared: _Shared, plan: _Plan, config: Word2VecConfig, history: list):
        self.bar, self.shared, self.plan, self.config = bar, shared, plan, config
        self.history = [list(point) for point in history]
        self.last_loss, self.last_pairs = shared.loss.value, shared.pairs.value
        bar.update(completed=shared.words_done.value * plan.scale)

    def show(self, stop: StopRequest | None) -> None:
        shared = self.shared
        if stop:
            shared.stop.set()
        loss, pairs, done = shared.loss.value, shared.pairs.value, shared.words_done.value * self.plan.scale
        fields = {"epoch": f"{min(done * self.config.epochs // max(self.plan.total_words, 1) + 1, self.config.epochs)}/{self.config.epochs}",
                  "lr": f"{learning_rate(self.config, done, self.plan.total_words):.5f}"}
        if pairs > self.last_pairs:
            fields["loss"] = (loss - self.last_loss) / (pairs - self.last_pairs)
            self.last_loss, self.last_pairs = loss, pairs
            epochs_done = done * self.config.epochs / max(self.plan.total_words, 1)
            self.history.append([round(epochs_done, 4), round(fields["loss"], 5)])
        self.bar.update(completed=done, **fields)


#: How ranks combine their matrices after every chunk: "sum" adds up every rank's change since
#: the last synchronisation (as Hogwild workers on one machine do); "average" is plain model
#: averaging, which divides each rank's update by the number of ranks (measured: worse quality).
SYNC_MODES = ("sum", "average")


class _Sync:
    """After every chunk: agree on stopping (a signal seen by any rank stops all of them at the
    same chunk); every ``every`` chunks, at the end and before stopping, combine both matrices."""

    def __init__(self, dist: Distributed, model: Word2Vec, shared: _Shared, state: TrainState,
                 stop: StopRequest | None, mode: str, every: int, items: int):
        self.dist, self.model, self.shared, self.state, self.stop, self.mode = dist, model, shared, state, stop, mode
        self.every, self.items = max(1, every), items
        self.matrices = (model.vectors.data, model.context.data)
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


def _run_processes(context, args, progress: _Progress, stop: StopRequest | None) -> None:
    model = args[0]
    model.vectors.share_memory_()
    model.context.share_memory_()
    processes = [context.Process(target=_worker_main, args=(w, *args), daemon=True) for w in range(progress.plan.workers)]
    for process in processes:
        process.start()
    try:
        while any(p.is_alive() for p in processes):
            progress.show(stop)
            for process in processes:
                process.join(timeout=0.25 / len(processes))
    finally:
        progress.shared.stop.set()
        for process in processes:
            process.join()
    progress.show(stop)
    failed = [p.exitcode for p in processes if p.exitcode]
    if failed:
        raise RuntimeError(f"a training worker failed (exit code {failed[0]})")


def _worker_main(worker: int, *args) -> None:
    # The parent decides when to stop; a terminal's Ctrl-C reaches the whole process group.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    torch.set_num_threads(1)
    _work(worker, *args)


def _work(worker, model, corpus, plan: _Plan, shared: _Shared, keep, noise, after_item=None) -> None:
    """Train this worker's items in order until done or told to stop."""
    size = corpus.num_words
    while shared.cursors[worker] < plan.items and not shared.stop.is_set():
        item = shared.cursors[worker]
        epoch, chunk = divmod(item, plan.chunks)
        begin = min(size, chunk * CHUNK_WORDS)  # a rank with a shorter shard idles in step
        end = min(size, begin + CHUNK_WORDS)
        loss, pairs = _train_chunk(model, corpus, begin, end, epoch, chunk, keep, noise,
                                   shared.words_done.value, plan.total_words, plan.scale, plan.rank)
        with shared.words_done.get_lock():
            shared.words_done.value += end - begin
            shared.loss.value += loss
            shared.pairs.value += pairs
            shared.items.value += 1
            shared.cursors[worker] = item + plan.workers
            if shared.stop_after and shared.items.value >= shared.stop_after:
                shared.stop.set()
        if after_item is not None:
            after_item()


def _train_chunk(model, corpus, begin, end, epoch, chunk, keep, noise, words_done, total, scale=1, rank=0) -> tuple[float, int]:
    config = model.config
    numpy_rng, torch_rng = _rng(config.seed, epoch, chunk, rank)
    ids, sentences = subsample(corpus.ids[begin:end], corpus.sentence_ids(begin, end), keep, numpy_rng)
    kept = max(ids.size, 1)
    done_centres = 0
    loss = torch.zeros((), dtype=torch.float64, device=model.vectors.device)
    pairs = 0
    device = model.vectors.device
    for _, centres, contexts in window_groups(ids, sentences, config.window, numpy_rng):
        contexts_t = torch.from_numpy(contexts).to(device)
        negatives = noise.sample((centres.size, config.negative), torch_rng)  # one draw per group
        targets = torch.cat([torch.from_numpy(centres)[:, None], negatives], dim=1).to(device)
        for start in range(0, centres.size, config.batch_size):
            stop = start + config.batch_size
            done = scale * (words_done + (end - begin) * (done_centres + start) / kept)
            lr = learning_rate(config, done, total)
            loss += model.sgd_step(contexts_t[start:stop], targets[start:stop], lr)
        done_centres += centres.size
        pairs += int((contexts >= 0).sum()) if config.arch == "skipgram" else centres.size
    return float(loss), pairs


# --------------------------------------------------------------------------- checkpoints


def save_training_checkpoint(directory: Path, model: Word2Vec, state: TrainState, extra: dict) -> None:
    save_checkpoint(directory, {
        "config": dataclasses.asdict(model.config),
        "state": dataclasses.asdict(state),
        "vectors": model.vectors.data,
        "context": model.context.data,
        "extra": extra,
    })


def load_training_checkpoint(directory: Path) -> dict:
    return load_checkpoint(directory)
