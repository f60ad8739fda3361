"""Data-parallel char LM training: ``torchrun --nproc-per-node N -m textlab train-charlm ...``
trains ONE model with :class:`torch.nn.parallel.DistributedDataParallel` (gloo on CPU, nccl on
CUDA; see :mod:`textlab.distributed`).

How the work is split: the ``--batch-size`` B parallel streams are cut from the training text
exactly as in a single process, and process r of W trains streams r*B/W .. (r+1)*B/W - 1, which
are one contiguous part of the training text (B must be a multiple of W). Each process's loss is
the mean over its own B/W streams and DDP averages the gradients, so every step uses the gradient
of the same B x seq_len characters that one process would: the global batch stays B streams (not
W x B), and the learning rate, its warm-up and cosine schedule and the steps per epoch are those of
a single-process run with the same options. The processes only make each step faster. The random
stream resets come from one generator that all processes share, each taking its own slice, so
with ``--dropout 0`` a run reproduces the single-process run up to float rounding; dropout draws
from a seed of its own on each process.

The hidden state stays on its process (it belongs to that process's streams). Validation: each
process measures a share of the validation streams that ``evaluate_ids`` uses, and the loss sums
are all-reduced, so all processes get the same value (the one ``textlab eval-charlm`` reports)
and take the same best-model and learning-rate decisions. Every step the processes agree by
all-reduce on the clock (``--max-minutes``), on a stop request (SIGINT/SIGTERM seen by any
process) and on the loss (NaN anywhere stops all), so they leave the loop at the same step and
none is left waiting in a collective.

Only process 0 logs, draws the progress bar and writes the model (its card records the world
size and backend). On a stop every process writes its hidden state and RNG states into
``<model>.ckpt/rank-<r>/``, then process 0 writes the shared state (model and optimizer are the
same on all processes under DDP) into ``<model>.ckpt/``; ``--resume`` needs the same world size.
Across machines the checkpoint directory must be on a shared filesystem.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from textlab.charlm.data import CharData, load_char_data
from textlab.charlm.evaluate import metrics_from_loss
from textlab.charlm.model import CharLMConfig
from textlab.charlm.config import TrainConfig
from textlab.charlm.train import Trainer, TrainResult, load_resume_state
from textlab.distributed import Distributed, init_from_environment
from textlab.errors import DataError, TextlabError, TrainingInterrupted, UsageError
from textlab.lm.measure import loss_sums, stream_count
from textlab.lm.streams import eval_streams
from textlab.runtime.checkpoints import checkpoint_dir_for, load_checkpoint, save_checkpoint
from textlab.runtime.output import say
from textlab.runtime.seeding import rng_state
from textlab.runtime.signals import StopRequest, stop_signal_handler

RANK_DIR = "rank-{}"


def reported_by_rank0(error: TextlabError) -> TextlabError:
    """Mark an error that process 0 raises as well, so the other processes can exit quietly
    with the same code instead of printing the same line N times."""
    error.reported_by_rank0 = True
    return error


def agreed(dist: Distributed, prepare: Callable):
    """``prepare()`` on every process; when it fails on any, it fails on all (so no process
    waits in a collective for one that has left). Process 0 speaks for the job."""
    error, result = None, None
    try:
        result = prepare()
    except TextlabError as exc:
        error = exc
    mine = np.zeros(dist.world_size, dtype=np.int64)
    mine[dist.rank] = error is not None
    failed = dist.all_reduce(mine, "max")
    if not failed.any():
        return result
    if error is None:
        ranks = ", ".join(str(r) for r in np.flatnonzero(failed))
        error = DataError(f"stopped because process(es) {ranks} failed (see their message)")
    if not dist.is_main and failed[0]:
        reported_by_rank0(error)
    raise error


@contextlib.contextmanager
def stop_on_signals(dist: Distributed) -> Iterator[StopRequest]:
    """:func:`textlab.runtime.signals.graceful_stop` for a torchrun process: SIGINT/SIGTERM set the flag
    that the training loop agrees on. Repeats are ignored: Ctrl-C in a terminal reaches every
    process twice (from the terminal, then forwarded by torchrun), and torchrun kills processes
    still alive after its shutdown timeout (30 s by default)."""
    request = StopRequest()

    def handler(signum, frame):  # noqa: ARG001
        if request.signum is None:
            request.signum = signum
            if dist.is_main:
                say(f"{signal.Signals(signum).name} received: all processes stop at the next step and save a "
                    "checkpoint, please wait...", style="yellow")

    with stop_signal_handler(handler):
        yield request


def process_seed(seed: int, rank: int) -> int:
    """Each process's seed for dropout (different on every process, fixed by seed and rank)."""
    return int(np.random.SeedSequence([seed, rank]).generate_state(1)[0])


class DistributedTrainer(Trainer):
    """One process's part of a DDP run (see the module docstring)."""

    def __init__(self, data: CharData, model_config: CharLMConfig, config: TrainConfig, dist: Distributed,
                 checkpoint_dir: Path | None = None, log: Callable[[str], None] = print):
        super().__init__(data, model_config, config, dist.device, checkpoint_dir,
                         log if dist.is_main else (lambda line: None))
        self.dist, self.world_size = dist, dist.world_size
        share = config.batch_size // dist.world_size
        self.rows = slice(dist.rank * share, (dist.rank + 1) * share)
        self.streams = self.streams[self.rows].contiguous()
        # the resets: the draws a single process would make (its RNG right after the model's
        # initialisation), the same on every process; dropout: a stream per process
        self.reset_rng = torch.Generator()
        self.reset_rng.set_state(torch.get_rng_state())
        torch.manual_seed(process_seed(config.seed, dist.rank))
        from torch.nn.parallel import DistributedDataParallel

        cuda = [dist.device.index] if dist.device.type == "cuda" else None
        self.net = DistributedDataParallel(self.model, device_ids=cuda)

    # ------------------------------------------------------------------ hooks of Trainer
    def stream_uniforms(self) -> torch.Tensor:
        return torch.rand(self.config.batch_size, generator=self.reset_rng)[self.rows]

    def agree(self, stop, elapsed: float) -> tuple[int, float, float]:
        signum = (stop.signum or 2) if stop else 0
        agreed_values = self.dist.all_reduce([signum, elapsed, self.eval_seconds], "max", dtype=torch.float64)
        return int(agreed_values[0]), float(agreed_values[1]), float(agreed_values[2])

    def sum_over_processes(self, value: float) -> float:
        return float(self.dist.all_reduce([value], "sum", dtype=torch.float64)[0])

    def measure(self) -> dict:
        """This process's share of the validation streams, loss sums all-reduced."""
        ids = self.valid_ids
        if len(ids) < 2:
            return metrics_from_loss(float("nan"), 0)
        inputs, targets = eval_streams(ids, stream_count(len(ids)))
        rows = np.array_split(np.arange(inputs.size(0)), self.world_size)[self.dist.rank]
        total, count = 0.0, 0
        if len(rows):
            total, count = loss_sums(self.model, inputs[rows[0]:rows[-1] + 1], targets[rows[0]:rows[-1] + 1],
                                     self.device)
        total, count = self.dist.all_reduce([total, count], "sum", dtype=torch.float64)
        return metrics_from_loss(float(total) / max(float(count), 1.0), int(count))

    # ------------------------------------------------------------------ checkpoints
    def state(self, elapsed: float) -> dict:
        state = super().state(elapsed)
        state.update(rng=None, hidden=None,  # per process: in rank-<r>/
                     distributed={"world_size": self.world_size, "backend": self.dist.backend})
        return state

    def rank_state(self) -> dict:
        hidden = self.hidden
        return {"rank": self.dist.rank, "world_size": self.world_size, "step": self.step, "rng": rng_state(),
                "reset_rng": self.reset_rng.get_state(),
                "cuda_rng": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
                "hidden": None if hidden is None else list(hidden if isinstance(hidden, tuple) else [hidden])}

    def save_checkpoint(self, elapsed: float) -> None:
        directory = Path(self.checkpoint_dir)
        if self.dist.is_main:  # the checkpoint is incomplete until process 0 writes this again
            (directory / "checkpoint.json").unlink(missing_ok=True)
        self.dist.barrier()
        save_checkpoint(directory / RANK_DIR.format(self.dist.rank), self.rank_state(), kind=self.kind)
        self.dist.barrier()
        if self.dist.is_main:
            save_checkpoint(directory, self.state(elapsed), kind=self.kind)
        self.dist.barrier()

    def restore(self, state: dict, mine: dict) -> None:  # mine: this process's rank-<r> part
        super().restore({**state, "rng": mine["rng"], "hidden": mine["hidden"]})
        self.reset_rng.set_state(mine["reset_rng"])
        if mine.get("cuda_rng") is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state(mine["cuda_rng"], self.device)


def check_world_size(state: dict, world_size: int, checkpoint_dir: Path) -> None:
    """Refuse to resume a checkpoint made by a different number of processes."""
    saved = (state.get("distributed") or {}).get("world_size", 1)
    if saved == 1:
        raise UsageError(f"the checkpoint in {checkpoint_dir} was written by a single process; "
                         "resume it with plain `textlab train-charlm ... --resume`")
    if saved != world_size:
        raise UsageError(f"the checkpoint in {checkpoint_dir} was written by {saved} processes; "
                         f"resume it under torchrun with {saved} processes, not {world_size}")


def train_charlm_distributed(data: CharData, model_config: CharLMConfig, config: TrainConfig, dist: Distributed,
                             checkpoint_dir: Path | None = None, resume: bool = False, stop=None,
                             log: Callable[[str], None] = print) -> TrainResult:
    """:func:`textlab.charlm.train.train_charlm` for one process of a torchrun job."""

    def prepare():
        if config.batch_size % dist.world_size:
            raise UsageError(f"--batch-size {config.batch_size} must be a multiple of the {dist.world_size} "
                             "processes (each trains the same number of streams)")
        if not resume:
            return None, None, model_config, config
        state, saved_model, saved_train = load_resume_state(checkpoint_dir, data)
        check_world_size(state, dist.world_size, checkpoint_dir)
        mine = load_checkpoint(Path(checkpoint_dir) / RANK_DIR.format(dist.rank), kind=Trainer.kind)
        if int(mine["step"]) != int(state["step"]) or int(mine["rank"]) != dist.rank:
            raise DataError(f"the checkpoint in {checkpoint_dir} is incomplete (process {dist.rank}'s part is "
                            "from another step)")
        return state, mine, saved_model, saved_train

    state, mine, model_config, config = agreed(dist, prepare)
    torch.manual_seed(config.seed)
    trainer = DistributedTrainer(data, model_config, config, dist, checkpoint_dir, log)
    if state is not None:
        trainer.restore(state, mine)
        trainer.log(f"resuming at step {trainer.step} (epoch {trainer.epoch}, {trainer.elapsed_before / 60:.1f} min done)")
    try:
        return trainer.run(stop)
    except TextlabError as exc:  # interrupted or diverged: agreed, so every process raises it
        raise exc if dist.is_main else reported_by_rank0(exc)


def train_under_torchrun(corpus: str, output: Path, valid_fraction: float, configure: Callable, device: str = "auto",
                         resume: bool = False, force: bool = False, log: Callable[[str], None] = print,
                         resume_hint: str = "") -> dict | None:
    """One process of ``torchrun ... -m textlab train-charlm``: read the corpus, train with DDP,
    process 0 saves ``output``. ``configure(alphabet_size, device)`` gives the model and
    training configs. Returns the saved metrics on process 0, None on the others."""
    from textlab.charlm.saving import save_charlm
    from textlab.data import resolve_corpus
    from textlab.reservation import reserve_output

    dist = init_from_environment(device)
    held = contextlib.ExitStack()  # process 0's reservation of the output, for the whole job
    try:
        log = log if dist.is_main else (lambda line: None)
        checkpoint_dir = checkpoint_dir_for(output)

        def first_look():
            held.enter_context(reserve_output(output, force, "model", hold=dist.is_main))
            if dist.is_main:  # a missing dataset is downloaded once, before the others read it
                resolve_corpus(corpus)

        agreed(dist, first_look)
        log(f"reading {corpus} ...")
        data = agreed(dist, lambda: load_char_data(corpus, valid_fraction))
        info = data.summary()
        model_config, train_config = agreed(dist, lambda: configure(len(data.alphabet), dist.device))
        log(f"{info['train_chars']:,} training and {info['valid_chars']:,} validation characters, alphabet of "
            f"{len(data.alphabet)}; device {dist.device}")
        with stop_on_signals(dist) as stop:
            dist.barrier()  # from here on every process turns a signal into an agreed stop
            log(f"{dist.world_size} processes ({dist.backend}) train one model: "
                f"{train_config.batch_size // dist.world_size} of the {train_config.batch_size} streams each")
            try:
                result = train_charlm_distributed(data, model_config, train_config, dist, checkpoint_dir,
                                                  resume, stop, log)
            except TrainingInterrupted as exc:
                again = TrainingInterrupted(f"{exc}; resume with: {resume_hint}" if resume_hint else str(exc), exc.signum)
                raise again if dist.is_main else reported_by_rank0(again) from None
        info["distributed"] = {"world_size": dist.world_size, "backend": dist.backend,
                               "streams_per_process": result.config.batch_size // dist.world_size}
        settings = {"train": asdict(result.config), "device": str(dist.device), "history": result.history}
        if dist.is_main:
            save_charlm(output, result.model.cpu(), data.alphabet, info, result.metrics, settings,
                        force=force or resume)
            shutil.rmtree(checkpoint_dir, ignore_errors=True)
        dist.barrier()  # the model is on disk before any process returns
        return result.metrics if dist.is_main else None
    finally:
        held.close()
        dist.close()
