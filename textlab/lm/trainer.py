"""The training loop every language model kind shares: stateful truncated BPTT over
``batch_size`` parallel streams.

Per step: take the next ``seq_len`` ids of every stream, carry the (detached) hidden state over
from the previous chunk (a few random streams start afresh, see ``forget_some_streams``), AdamW
step with gradient clipping (and a gradient scaler under fp16 autocast on CUDA). The learning
rate warms up, then follows a cosine toward ``min_lr_ratio * lr`` over the run (the run's length
is the epoch count or the ``--max-minutes`` budget, whichever ends first), and halves whenever
validation stops improving. The best weights by validation loss are kept.

The streams live on the device and the loss is summed there; the host reads it every
``read_every`` steps (every step on a CPU, where reading costs nothing), so a GPU never waits
for the host inside that window.

Ctrl-C / SIGTERM: a checkpoint (model, optimizer, scaler, RNG, position, hidden state) is
written and :class:`TrainingInterrupted` raised; resuming continues from exactly that step.

A kind subclasses :class:`LMTrainer` and fills the hooks marked "kind hook" (its model, what a
validation reports, what its checkpoint records about the alphabet or vocabulary); the hooks
marked "hook" are what data-parallel training overrides (:mod:`textlab.charlm.distributed`).

The model: ``forward(idx, targets, state) -> (output, mean loss, state)``, ``summed_loss`` (see
:mod:`textlab.lm.measure`), ``num_parameters()`` and a ``config`` with ``to_dict()``. The data:
``train`` and ``valid`` id arrays and ``summary()``. The config: the fields of the char LM's
``TrainConfig``.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from textlab.errors import DataError, TrainingInterrupted
from textlab.lm.streams import chunk, detach_state, make_streams
from textlab.runtime.checkpoints import save_checkpoint
from textlab.runtime.device import autocast
from textlab.runtime.progress import ProgressBar
from textlab.runtime.seeding import rng_state, set_rng_state
from textlab.threads import ThreadTuner


@dataclass
class TrainResult:
    model: Any
    metrics: dict
    config: Any
    history: list = field(default_factory=list)
    curve: list = field(default_factory=list)  # [epoch position, mean training loss] every read window


def lr_at(config, step: int, progress: float, scale: float) -> float:
    """Warmup, then cosine decay over ``progress`` in [0, 1], times the plateau ``scale``."""
    warm = min(1.0, (step + 1) / max(1, config.warmup_steps))
    progress = min(max(progress, 0.0), 1.0)
    ratio = config.min_lr_ratio + (1.0 - config.min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
    return config.lr * warm * ratio * scale


def build_optimizer(model: torch.nn.Module, config) -> torch.optim.Optimizer:
    """AdamW; no weight decay on biases, norms and the embedding."""
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and not n.startswith("embed")]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2 or n.startswith("embed")]
    return torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=config.lr, betas=(0.9, 0.99))


class LMTrainer:
    """Holds everything a run needs so that it can be checkpointed and resumed as one state."""

    unit = "chars"  # kind hook: what the ids are, in the progress bar and the rates ("chars", "tokens")
    kind = "charlm"  # kind hook: the model kind, recorded in the checkpoint and checked on resume
    validation_share = 0.0  # kind hook: with a budget, validations that cost more of the training time space out

    def __init__(self, data, model_config, config, device: torch.device, checkpoint_dir: Path | None = None,
                 log: Callable[[str], None] = print):
        self.data, self.config, self.device, self.log = data, config, device, log
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        if config.epochs <= 0 and config.max_minutes <= 0:
            raise DataError("give --epochs or --max-minutes (or both)")
        self.model = self.build_model(model_config).to(device)
        self.net = self.model  # hook: what the training step calls (a DistributedDataParallel wrapper under torchrun)
        self.world_size = 1
        self.optimizer = build_optimizer(self.model, config)
        self.scaler = torch.amp.GradScaler(device.type, enabled=config.precision == "fp16")
        self.streams = make_streams(data.train, config.batch_size, self.unit_name()).to(device)  # resident
        self.steps_per_epoch = max(1, math.ceil((self.streams.size(1) - 1) / config.seq_len))
        self.eval_interval = config.eval_interval or min(self.steps_per_epoch, 1000)
        self.valid_ids = data.valid[: self.valid_limit()]
        self.read_every = 1 if device.type == "cpu" else 16  # steps between host reads of the loss
        # the run's position and bookkeeping (all of it goes into a checkpoint)
        self.step, self.epoch, self.position = 0, 0, 0
        self.hidden = None
        self.elapsed_before = 0.0
        self.best_loss, self.best_weights, self.best_step = float("inf"), None, 0
        self.lr_scale, self.last_halving = 1.0, 0
        self.loss_sum, self.loss_count = 0.0, 0
        self.history: list[dict] = []
        self.curve: list[list[float]] = []
        self.eval_seconds = self.eval_seconds_total = 0.0  # the final validation is kept inside the budget

    # ------------------------------------------------------------------ kind hooks
    def build_model(self, model_config) -> torch.nn.Module:
        raise NotImplementedError

    def valid_limit(self) -> int:
        """At most this many validation ids are measured at each validation."""
        raise NotImplementedError

    def unit_name(self) -> str:
        """The ids' name in messages (``characters``, ``tokens``)."""
        return {"chars": "characters"}.get(self.unit, self.unit)

    def data_record(self) -> dict:
        """What a checkpoint records about the data: a resumed run must read the same."""
        return {"data": self.data.summary()}

    def evaluate(self) -> dict:
        """``{loss, ...}`` of the current model on ``valid_ids``."""
        raise NotImplementedError

    def validation_fields(self, metrics: dict) -> dict:
        """The history's figures of one validation (after train_loss)."""
        return {"val_loss": round(metrics["loss"], 4), "val_perplexity": round(metrics["perplexity"], 3)}

    def describe(self, metrics: dict) -> str:
        """The log line's figures of one validation (after the validation loss)."""
        return f"ppl {metrics['perplexity']:.3f}"

    def best_fields(self, best_loss: float) -> dict:
        """The summary's validation figures of the best model."""
        raise NotImplementedError

    # ------------------------------------------------------------------ schedule and budget
    def should_halve(self) -> bool:
        """The learning rate halves when validation has not improved for ``patience`` epochs
        (counted in steps since the best one and since the last halving), whatever the number of
        validations in between (a time budget validates ~10 times a run: counting validations
        halved it 8 times in one 10-minute run, which stalled at 1.497 instead of ~1.46)."""
        wait = self.config.patience * self.steps_per_epoch
        return self.step - self.best_step >= wait and self.step - self.last_halving >= wait

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
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
            "step": self.step, "epoch": self.epoch, "position": self.position,
            "hidden": None if self.hidden is None else list(self.hidden if isinstance(self.hidden, tuple) else [self.hidden]),
            "elapsed": elapsed, "best_loss": self.best_loss, "best_weights": self.best_weights,
            "lr_scale": self.lr_scale, "best_step": self.best_step, "last_halving": self.last_halving,
            "loss_sum": self.loss_sum,
            "loss_count": self.loss_count, "history": self.history, "curve": self.curve,
            "eval_interval": self.eval_interval,
            "model_config": self.model.config.to_dict(), "train_config": asdict(self.config),
            **self.data_record(),
        }

    def save_checkpoint(self, elapsed: float) -> None:
        save_checkpoint(self.checkpoint_dir, self.state(elapsed), kind=self.kind)

    def restore(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if state.get("scaler") and self.scaler.is_enabled():
            self.scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        self.step, self.epoch, self.position = int(state["step"]), int(state["epoch"]), int(state["position"])
        hidden = state["hidden"]
        if hidden is not None:  # an LSTM's state is a pair, a GRU's or RNN's one tensor
            hidden = [h.to(self.device) for h in hidden]
            hidden = tuple(hidden) if len(hidden) > 1 else hidden[0]
        self.hidden = hidden
        self.elapsed_before = float(state["elapsed"])
        self.best_loss = float(state["best_loss"])
        self.best_weights = state["best_weights"]
        self.lr_scale = float(state["lr_scale"])
        self.best_step, self.last_halving = int(state.get("best_step", 0)), int(state.get("last_halving", 0))
        self.loss_sum, self.loss_count = float(state["loss_sum"]), int(state["loss_count"])
        self.history = list(state["history"])
        self.curve = [list(point) for point in state.get("curve") or []]
        self.eval_interval = int(state.get("eval_interval") or self.eval_interval)

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
            self.best_loss, self.best_step = metrics["loss"], self.step
            self.best_weights = {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}
        elif self.should_halve():
            self.lr_scale *= 0.5
            self.last_halving = self.step
        record = {"epoch": round(self.step / self.steps_per_epoch, 3), "step": self.step,
                  "minutes": round(elapsed / 60.0, 2), "train_loss": round(train_loss, 4),
                  **self.validation_fields(metrics), "lr_scale": self.lr_scale}
        self.history.append(record)
        self.log(f"epoch {record['epoch']:.2f} step {self.step} ({record['minutes']:.1f} min): "
                 f"train loss {train_loss:.4f}  val loss {metrics['loss']:.4f}  "
                 f"{self.describe(metrics)}" + ("  *best" if improved else "")
                 + ("" if improved or self.lr_scale == 1.0 else f"  (lr x{self.lr_scale:g})"))
        return metrics

    def measure(self) -> dict:
        """hook: validation loss of the current model on ``valid_ids`` (the same on every process)."""
        return self.evaluate()

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
        keep = keep.to(self.device, non_blocking=True).view(1, -1, 1)  # state: (layers, batch, hidden)
        return tuple(s * keep for s in state) if isinstance(state, tuple) else state * keep

    # ------------------------------------------------------------------ one step
    def train_step(self, lr: float) -> torch.Tensor:
        """One optimiser step on the next chunk of every stream; returns the loss (on the device)."""
        config = self.config
        x, y = chunk(self.streams, self.position, config.seq_len)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        with autocast(self.device, config.precision):
            _, loss, hidden = self.net(x, y, self.hidden)
        self.hidden = self.forget_some_streams(detach_state(hidden))
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return loss.detach().float()

    def _read_losses(self, window: torch.Tensor, steps: int) -> float:
        """The mean loss of the last ``steps`` steps (the one host read of a window)."""
        mean = self.sum_over_processes(float(window)) / self.world_size / steps
        if not math.isfinite(mean):
            raise DataError("the training loss became NaN/inf; try a smaller --lr")
        self.loss_sum += mean * steps
        self.loss_count += steps
        self.curve.append([round(self.step / self.steps_per_epoch, 4), round(mean, 5)])
        return mean

    def _space_validations(self, trained_seconds: float) -> None:
        """With a budget and ``validation_share``: a validation that took longer than that share
        of the training time since the previous one doubles the interval (up to an epoch)."""
        if self.validation_share and self.config.max_minutes > 0 and \
                self.eval_seconds > self.validation_share * trained_seconds:
            self.eval_interval = max(self.eval_interval, min(2 * self.eval_interval, self.steps_per_epoch))

    def _plan_validations(self, seconds_per_step: float) -> None:
        """With a time budget and no --eval-interval: about ten validations over the run (at
        most an epoch and 1000 steps apart), from the speed of the first steps."""
        if self.config.eval_interval or self.config.max_minutes <= 0:
            return
        steps = self.config.max_minutes * 60.0 / max(seconds_per_step, 1e-9)
        if self.total_steps:
            steps = min(steps, self.total_steps)
        self.eval_interval = int(max(20, min(self.steps_per_epoch, 1000, steps / 10)))

    # ------------------------------------------------------------------ the loop
    def run(self, stop=None) -> TrainResult:
        config = self.config
        # (a --seq-len longer than the streams reads to their end: a step is never more than that)
        units_per_step = config.batch_size * min(config.seq_len, self.streams.size(1) - 1)
        budget = config.max_minutes * 60.0
        start, cpu_start = time.perf_counter(), time.process_time()
        steps_this_session, units_this_session = 0, 0
        window, window_steps, last_loss = torch.zeros((), device=self.device), 0, None
        trained_before = 0.0  # training seconds at the previous validation
        self.model.train()

        def elapsed() -> float:
            return self.elapsed_before + time.perf_counter() - start

        def training_seconds() -> float:
            return max(time.perf_counter() - start - self.eval_seconds_total, 1e-9)

        threads = ThreadTuner.for_device(self.device)  # 1 or 2 CPU threads, whichever is faster now
        total = budget if budget else self.total_steps * units_per_step
        with ProgressBar(total=total, description="train", unit=self.unit) as bar:
            bar.update(completed=min(elapsed(), budget) if budget else self.step * units_per_step)
            while True:
                if self.total_steps and self.step >= self.total_steps:
                    break
                if steps_this_session % self.read_every == 0:
                    signum, now, eval_seconds = self.agree(stop, elapsed())
                    if budget and now + eval_seconds >= budget:
                        break
                    if signum:
                        self._interrupted(now, signum)
                lr = lr_at(config, self.step, self.progress(elapsed()), self.lr_scale)
                step_units = config.batch_size * min(config.seq_len, self.streams.size(1) - 1 - self.position)
                window = window + self.train_step(lr)
                window_steps += 1
                self.step += 1
                steps_this_session += 1
                units_this_session += step_units  # what the step read (the last chunk of an epoch is shorter)
                self.position += config.seq_len
                if self.position >= self.streams.size(1) - 1:  # epoch done: start the streams afresh
                    self.position, self.epoch, self.hidden = 0, self.epoch + 1, None
                if steps_this_session == 20:
                    self._plan_validations(training_seconds() / 20)
                threads.step(step_units)
                validating = self.step % self.eval_interval == 0 or \
                    (self.position == 0 and self.eval_interval >= self.steps_per_epoch)
                if window_steps >= self.read_every or validating:
                    last_loss = self._read_losses(window, window_steps)
                    window, window_steps = torch.zeros((), device=self.device), 0
                    rate = units_this_session / training_seconds()
                    self._show(bar, budget, elapsed(), rate, units_per_step, last_loss, lr)
                if validating:
                    bar.update(phase="validating")
                    trained = training_seconds()
                    self.validate(elapsed())
                    self._space_validations(trained - trained_before)
                    trained_before = trained
                    bar.update(phase="")
            if window_steps:
                self._read_losses(window, window_steps)
            if not self.history or self.history[-1]["step"] != self.step:
                bar.update(phase="validating")
                self.validate(elapsed())
                bar.update(phase="")

        train_seconds = time.perf_counter() - start
        cpu_seconds = self.sum_over_processes(time.process_time() - cpu_start)  # includes validation; the wall-clock rate does not
        if self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
        metrics = {
            **self.best_fields(self.best_loss),
            "steps": self.step, "epochs": round(self.step / self.steps_per_epoch, 3),
            "minutes": round(elapsed() / 60.0, 2),
            f"train_{self.unit}_per_s": round(units_this_session / max(train_seconds - self.eval_seconds_total, 1e-9)),
            f"train_{self.unit}_per_cpu_s": round(units_this_session / max(cpu_seconds, 1e-9)),
            "parameters": self.model.num_parameters(), "precision": config.precision,
            "threads": threads.summary(),
        }
        threads.finish()
        return TrainResult(self.model, metrics, self.config, self.history, self.curve)

    def _show(self, bar: ProgressBar, budget: float, now: float, rate: float, units_per_step: int,
              loss: float, lr: float) -> None:
        """The bar: share of the budget (or of the steps), the training rate the summary will
        report, and an ETA that counts the validations still to come."""
        if budget:
            bar.update(completed=min(now, budget), rate=rate, eta=max(0.0, budget - now), loss=round(loss, 4),
                       epoch=f"{self.step / self.steps_per_epoch:.2f}")
            return
        steps_left = max(0, self.total_steps - self.step)
        validations_left = 1 + steps_left // max(self.eval_interval, 1)
        eta = steps_left * units_per_step / max(rate, 1e-9) + validations_left * self.eval_seconds
        bar.update(completed=self.step * units_per_step, rate=rate, eta=eta, loss=round(loss, 4),
                   epoch=f"{self.step / self.steps_per_epoch:.2f}/{self.config.epochs}", lr=f"{lr:.2g}")

    def _interrupted(self, now: float, signum: int) -> None:
        where = "no checkpoint kept"
        if self.checkpoint_dir is not None:
            self.save_checkpoint(now)
            where = f"checkpoint saved in {self.checkpoint_dir}"
        raise TrainingInterrupted(f"training interrupted at step {self.step}; {where}", signum)

