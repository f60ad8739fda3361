"""Training loop for the char LM: stateful truncated BPTT over ``batch_size`` parallel streams.

Per step: take the next ``seq_len`` characters of every stream, carry the (detached) hidden
state over from the previous chunk (a few random streams start afresh, see
``forget_some_streams``), AdamW step with gradient clipping. The learning rate
warms up, then follows a cosine toward ``min_lr_ratio * lr`` over the run (the run's length is
the epoch count or the ``--max-minutes`` budget, whichever ends first), and halves whenever
validation stops improving. The best weights by validation loss are kept.

Ctrl-C / SIGTERM: a checkpoint (model, optimizer, RNG, position, hidden state) is written and
:class:`TrainingInterrupted` raised; ``resume=True`` continues from exactly that step.

Data-parallel training under torchrun lives in :mod:`textlab.charlm.distributed`: it subclasses
:class:`Trainer` and overrides the few hooks marked "hook" below (the forward module, validation,
the random stream resets, agreement on stopping and the clock, sums over processes, checkpoints).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch

from textlab.charlm.data import CharData, chunk, make_streams
from textlab.charlm.evaluate import evaluate_ids, metrics_from_loss
from textlab.charlm.model import CharLM, CharLMConfig, detach_state
from textlab.errors import DataError, TrainingInterrupted, UsageError
from textlab.runtime import (
    ProgressBar, autocast, load_checkpoint, pick_precision, rng_state, save_checkpoint, set_rng_state,
)
from textlab.threads import ThreadTuner


@dataclass
class TrainConfig:
    seq_len: int = 128
    batch_size: int = 64
    epochs: int = 0  # 0 = no epoch limit (then max_minutes must be set)
    max_minutes: float = 0.0  # 0 = no time limit
    lr: float = 2e-3
    min_lr_ratio: float = 0.02  # the cosine ends at lr * min_lr_ratio
    warmup_steps: int = 50
    weight_decay: float = 0.1
    clip: float = 1.0
    eval_interval: int = 0  # steps between validations; 0 = every epoch, at most 1000 steps apart
    eval_chars: int = 2_000_000  # periodic validation uses at most this many validation chars
    patience: int = 1  # validations without improvement before the learning rate halves
    reset_prob: float = 0.02  # chance per stream and chunk that its hidden state starts afresh
    precision: str = "fp32"  # fp32 | bf16 (autocast for training steps; validation is always fp32)
    seed: int = 1


@dataclass
class TrainResult:
    model: CharLM
    metrics: dict
    config: TrainConfig
    history: list = field(default_factory=list)


def lr_at(config: TrainConfig, step: int, progress: float, scale: float) -> float:
    """Warmup, then cosine decay over ``progress`` in [0, 1], times the plateau ``scale``."""
    warm = min(1.0, (step + 1) / max(1, config.warmup_steps))
    progress = min(max(progress, 0.0), 1.0)
    ratio = config.min_lr_ratio + (1.0 - config.min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
    return config.lr * warm * ratio * scale


class Trainer:
    """Holds everything a run needs so that it can be checkpointed and resumed as one state."""

    def __init__(self, data: CharData, model_config: CharLMConfig, config: TrainConfig,
                 device: torch.device, checkpoint_dir: Path | None = None,
                 log: Callable[[str], None] = print):
        self.data, self.config, self.device, self.log = data, config, device, log
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        if config.epochs <= 0 and config.max_minutes <= 0:
            raise DataError("give --epochs or --max-minutes (or both)")
        self.model = CharLM(model_config).to(device)
        self.net = self.model  # hook: what the training step calls (a DistributedDataParallel wrapper under torchrun)
        self.world_size = 1
        decay = [p for n, p in self.model.named_parameters() if p.dim() >= 2 and not n.startswith("embed")]
        no_decay = [p for n, p in self.model.named_parameters() if p.dim() < 2 or n.startswith("embed")]
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=config.lr, betas=(0.9, 0.99))
        self.streams = make_streams(data.train, config.batch_size)
        self.steps_per_epoch = max(1, math.ceil((self.streams.size(1) - 1) / config.seq_len))
        self.eval_interval = config.eval_interval or min(self.steps_per_epoch, 1000)
        self.valid_ids = data.valid[: config.eval_chars]
        # the run's position and bookkeeping (all of it goes into a checkpoint)
        self.step, self.epoch, self.position = 0, 0, 0
        self.hidden = None
        self.elapsed_before = 0.0
        self.best_loss, self.best_weights = float("inf"), None
        self.lr_scale, self.bad_evals = 1.0, 0
        self.loss_sum, self.loss_count = 0.0, 0
        self.history: list[dict] = []
        self.eval_seconds = self.eval_seconds_total = 0.0  # the final validation is kept inside the budget

    # ------------------------------------------------------------------ schedule and budget
    @property
    def total_steps(self) -> int:
        return self.config.epochs * self.steps_per_epoch if self.config.epochs > 0 else 0

    def progress(self, elapsed: float) -> float:
        parts = []
        if self.total_steps:
            parts.append(self.step / self.total_steps)
        if self.config.max_minutes > 0:
            parts.append(elapsed / (self.config.max_minutes * 60.0))
        return max(parts)

    # ------------------------------------------------------------------ checkpoints
    def state(self, elapsed: float) -> dict:
        return {
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(), "rng": rng_state(),
            "step": self.step, "epoch": self.epoch, "position": self.position,
            "hidden": None if self.hidden is None else list(self.hidden if isinstance(self.hidden, tuple) else [self.hidden]),
            "elapsed": elapsed, "best_loss": self.best_loss, "best_weights": self.best_weights,
            "lr_scale": self.lr_scale, "bad_evals": self.bad_evals, "loss_sum": self.loss_sum,
            "loss_count": self.loss_count, "history": self.history,
            "model_config": self.model.config.to_dict(), "train_config": asdict(self.config),
            "alphabet": self.data.alphabet, "data": self.data.summary(),
        }

    def save_checkpoint(self, elapsed: float) -> None:
        save_checkpoint(self.checkpoint_dir, self.state(elapsed))

    def restore(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        set_rng_state(state["rng"])
        self.step, self.epoch, self.position = int(state["step"]), int(state["epoch"]), int(state["position"])
        hidden = state["hidden"]
        if hidden is not None:
            hidden = [h.to(self.device) for h in hidden]
            hidden = tuple(hidden) if self.model.config.cell == "lstm" else hidden[0]
        self.hidden = hidden
        self.elapsed_before = float(state["elapsed"])
        self.best_loss = float(state["best_loss"])
        self.best_weights = state["best_weights"]
        self.lr_scale, self.bad_evals = float(state["lr_scale"]), int(state["bad_evals"])
        self.loss_sum, self.loss_count = float(state["loss_sum"]), int(state["loss_count"])
        self.history = list(state["history"])

    # ------------------------------------------------------------------ validation
    def validate(self, elapsed: float) -> dict:
        started = time.perf_counter()
        metrics = self.measure()
        self.eval_seconds = time.perf_counter() - started
        self.eval_seconds_total += self.eval_seconds
        train_loss = self.loss_sum / max(1, self.loss_count)
        self.loss_sum, self.loss_count = 0.0, 0
        improved = metrics["loss"] < self.best_loss
        if improved:
            self.best_loss = metrics["loss"]
            self.best_weights = {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}
            self.bad_evals = 0
        else:
            self.bad_evals += 1
            if self.bad_evals >= self.config.patience:
                self.lr_scale *= 0.5
                self.bad_evals = 0
        record = {"epoch": round(self.step / self.steps_per_epoch, 3), "step": self.step,
                  "minutes": round(elapsed / 60.0, 2), "train_loss": round(train_loss, 4),
                  "val_loss": round(metrics["loss"], 4), "val_perplexity": round(metrics["perplexity"], 3),
                  "val_bpc": round(metrics["bpc"], 4), "lr_scale": self.lr_scale}
        self.history.append(record)
        self.log(f"epoch {record['epoch']:.2f} step {self.step} ({record['minutes']:.1f} min): "
                 f"train loss {train_loss:.4f}  val loss {metrics['loss']:.4f}  "
                 f"ppl {metrics['perplexity']:.3f}  bpc {metrics['bpc']:.4f}" + ("  *best" if improved else "")
                 + ("" if improved or self.lr_scale == 1.0 else f"  (lr x{self.lr_scale:g})"))
        return metrics

    def measure(self) -> dict:
        """hook: validation loss of the current model on ``valid_ids`` (the same on every process)."""
        return evaluate_ids(self.model, self.valid_ids, self.device)

    def stream_uniforms(self) -> torch.Tensor:
        """hook: one uniform draw per stream of this process (for the stream resets)."""
        return torch.rand(self.config.batch_size)

    def agree(self, stop, elapsed: float) -> tuple[int, float, float]:
        """hook: the stop signal (0 = none), the clock and the last validation's duration, as
        every process sees them (one process: as they are)."""
        return ((stop.signum or 2) if stop else 0), elapsed, self.eval_seconds

    def sum_over_processes(self, value: float) -> float:
        """hook: ``value`` summed over the processes of a distributed run."""
        return value

    def forget_some_streams(self, state):
        """Zero the state of a few random streams. Carried state alone means the model almost
        never starts from nothing, yet generation does: without this, samples from a short
        seed drift into strings of rare characters."""
        if state is None or self.config.reset_prob <= 0:
            return state
        keep = (self.stream_uniforms() >= self.config.reset_prob).float()
        keep = keep.to(self.device).view(1, -1, 1)  # state: (layers, batch, hidden)
        return tuple(s * keep for s in state) if isinstance(state, tuple) else state * keep

    # ------------------------------------------------------------------ the loop
    def run(self, stop=None) -> TrainResult:
        config = self.config
        chars_per_step = config.batch_size * config.seq_len
        total_chars = self.total_steps * chars_per_step if self.total_steps else None
        start, cpu_start = time.perf_counter(), time.process_time()
        steps_this_session, chars_this_session = 0, 0
        self.model.train()

        def elapsed() -> float:
            return self.elapsed_before + time.perf_counter() - start

        threads = ThreadTuner.for_device(self.device)  # 1 or 2 CPU threads, whichever is faster now
        with ProgressBar(total=total_chars, description="train", unit="chars") as bar:
            bar.update(completed=self.step * chars_per_step)
            while True:
                if self.total_steps and self.step >= self.total_steps:
                    break
                signum, now, eval_seconds = self.agree(stop, elapsed())
                if config.max_minutes > 0 and now + eval_seconds >= config.max_minutes * 60.0:
                    break
                if signum:
                    where = "no checkpoint kept"
                    if self.checkpoint_dir is not None:
                        self.save_checkpoint(now)
                        where = f"checkpoint saved in {self.checkpoint_dir}"
                    raise TrainingInterrupted(f"training interrupted at step {self.step}; {where}", signum)
                x, y = chunk(self.streams, self.position, config.seq_len)
                x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr_at(config, self.step, self.progress(now), self.lr_scale)
                with autocast(self.device, config.precision):
                    _, loss, hidden = self.net(x, y, self.hidden)
                self.hidden = self.forget_some_streams(detach_state(hidden))
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.clip)
                self.optimizer.step()
                loss_value = self.sum_over_processes(loss.item()) / self.world_size
                if not math.isfinite(loss_value):
                    raise DataError("the training loss became NaN/inf; try a smaller --lr")
                self.loss_sum += loss_value
                self.loss_count += 1
                self.step += 1
                steps_this_session += 1
                step_chars = x.size(1) * config.batch_size  # over all processes
                chars_this_session += step_chars
                self.position += config.seq_len
                if self.position >= self.streams.size(1) - 1:  # epoch done: start the streams afresh
                    self.position, self.epoch, self.hidden = 0, self.epoch + 1, None
                fields = {"loss": loss_value, "lr": group["lr"]}
                if config.max_minutes > 0:
                    fields["left"] = f"{max(0.0, config.max_minutes * 60 - elapsed()) / 60:.1f}min"
                bar.update(advance=step_chars, **fields)
                threads.step(step_chars)
                if self.step % self.eval_interval == 0 or self.position == 0:
                    self.validate(elapsed())
            if not self.history or self.history[-1]["step"] != self.step:
                self.validate(elapsed())

        train_seconds = time.perf_counter() - start
        cpu_seconds = self.sum_over_processes(time.process_time() - cpu_start)  # includes validation; the wall-clock rate does not
        if self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
        best = metrics_from_loss(self.best_loss, len(self.valid_ids) - 1)
        metrics = {
            "val_loss": best["loss"], "val_perplexity": best["perplexity"], "val_bpc": best["bpc"],
            "steps": self.step, "epochs": round(self.step / self.steps_per_epoch, 3),
            "minutes": round(elapsed() / 60.0, 2),
            "train_chars_per_s": round(chars_this_session / max(train_seconds - self.eval_seconds_total, 1e-9)),
            "train_chars_per_cpu_s": round(chars_this_session / max(cpu_seconds, 1e-9)),
            "parameters": self.model.num_parameters(), "precision": config.precision,
            "threads": threads.summary(),
        }
        return TrainResult(self.model, metrics, self.config, self.history)


def train_charlm(data: CharData, model_config: CharLMConfig, config: TrainConfig, device: torch.device,
                 checkpoint_dir: Path | None = None, resume: bool = False, stop=None,
                 log: Callable[[str], None] = print) -> TrainResult:
    """Train (or resume) a char LM; with ``resume`` the configs come from the checkpoint."""
    state = None
    if resume:
        state, model_config, config = load_resume_state(checkpoint_dir, data)
        world = (state.get("distributed") or {}).get("world_size", 1)
        if world != 1:
            raise UsageError(f"the checkpoint in {checkpoint_dir} was written by {world} torchrun processes; "
                             f"resume it under torchrun with {world} processes")
    torch.manual_seed(config.seed)
    trainer = Trainer(data, model_config, config, device, checkpoint_dir, log)
    if state is not None:
        trainer.restore(state)
        log(f"resuming at step {trainer.step} (epoch {trainer.epoch}, {trainer.elapsed_before / 60:.1f} min done)")
    return trainer.run(stop)


def load_resume_state(checkpoint_dir: Path | None, data: CharData) -> tuple[dict, CharLMConfig, TrainConfig]:
    """The checkpoint to resume from and the configs it was made with; refuses another corpus."""
    if checkpoint_dir is None:
        raise DataError("--resume needs a checkpoint directory")
    state = load_checkpoint(checkpoint_dir)
    saved = {k: v for k, v in state["data"].items() if k != "corpus"}
    if state["alphabet"] != data.alphabet or saved != {k: v for k, v in data.summary().items() if k != "corpus"}:
        raise DataError(f"the checkpoint in {checkpoint_dir} was made with a different corpus or --valid-fraction")
    model_config = CharLMConfig.from_dict(state["model_config"], where=f"{checkpoint_dir}")
    return state, model_config, TrainConfig(**state["train_config"])


def device_defaults(device_type: str, precision: str = "fp32") -> dict:
    """Model and batch shape used when the user gives none (``precision``: the resolved one).

    CPU, tuned on tinyshakespeare with a 10-minute budget on 2 cores (epoch-matched runs,
    validation loss after N epochs of the nanoGPT split):
    - bf16 (AMX / AVX-512 BF16 CPUs): autocast makes the LSTM's matrix products 2.5-4x faster
      at no loss (1x512, 16 streams, 10 epochs: 1.4738 bf16 vs 1.4761 fp32), so a wider model
      with more dropout fits the budget: 1x768, 32 streams, dropout 0.2 reaches 1.4526 after 11
      epochs.
    - fp32: one 512-unit layer and 16 streams. On a CPU the recurrence runs step by step, so
      16 streams cost only ~15% more time per character than 64 but give 4x more updates per
      character (validation after one epoch: 1.81 with 16 streams, 1.91 with 32, 2.19 with 64);
      a second layer costs 2-3x the time per character.
    CUDA: a wider two-layer model the GPU can afford (not measured: no GPU in these sessions).
    """
    if device_type == "cuda":
        return {"hidden": 1024, "layers": 2, "dropout": 0.25, "seq_len": 256, "batch_size": 64,
                "lr": 2e-3, "embed_dim": 128}
    if precision == "bf16":
        return {"hidden": 768, "layers": 1, "dropout": 0.2, "seq_len": 128, "batch_size": 32,
                "lr": 2e-3, "embed_dim": 64}
    return {"hidden": 512, "layers": 1, "dropout": 0.1, "seq_len": 128, "batch_size": 16,
            "lr": 2e-3, "embed_dim": 64}


def make_configs(vocab_size: int, device_type: str, cell: str = "lstm", epochs: int | None = None,
                 max_minutes: float | None = None, seed: int = 1, **overrides) -> tuple[CharLMConfig, TrainConfig]:
    """The model and training configs for a run: the device's defaults, then what the user gave
    (``overrides`` with value None are ignored). Without epochs or a budget: 10 epochs."""
    precision = pick_precision(overrides.pop("precision", None) or "auto", torch.device(device_type))
    chosen = device_defaults(device_type, precision)
    unknown = set(overrides) - set(chosen)
    if unknown:
        raise TypeError(f"unknown settings: {sorted(unknown)}")
    chosen.update({k: v for k, v in overrides.items() if v is not None})
    dropout = float(chosen["dropout"])
    model_config = CharLMConfig(vocab_size=vocab_size, cell=cell, embed_dim=chosen["embed_dim"],
                                hidden=chosen["hidden"], layers=chosen["layers"], dropout=dropout,
                                embed_dropout=dropout / 2)
    model_config.check()
    train_config = TrainConfig(seq_len=chosen["seq_len"], batch_size=chosen["batch_size"],
                               epochs=epochs or (0 if max_minutes else 10), max_minutes=max_minutes or 0.0,
                               lr=chosen["lr"], seed=seed, precision=precision)
    return model_config, train_config
