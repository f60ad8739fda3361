"""Stage 3 of training: the neural part, AdamW over length-sorted batches (the training
reviews, and with ``--sentence-crops`` that epoch's crops of them,
:mod:`textlab.sentiment.short_inputs`), validation after every epoch, the best epoch kept. On CUDA the step loop makes no host synchronisation (losses
are summed on the device and read every :data:`LOSS_READ_EVERY` steps; batches are copied
from pinned memory asynchronously)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, fields

import numpy as np
import torch

from textlab.runtime.output import say
from textlab.runtime.progress import ProgressBar
from textlab.sentiment.config import TrainSettings
from textlab.sentiment.data import EncodedReviews, length_sorted_batches
from textlab.sentiment.linear import RunningLoss, accuracy, log_loss
from textlab.sentiment.model import SentimentModel
from textlab.sentiment.prepare import Prepared
from textlab.sentiment.run_plan import Clock
from textlab.sentiment.saved import make_encoder
from textlab.sentiment.short_inputs import crop_count, sentence_crops, with_crops
from textlab.threads import ThreadTuner, tuned_threads

#: Seconds kept at the end of a --max-minutes budget for the mix, the calibration and saving,
#: on top of one validation pass of the neural part (estimated from its speed).
FINISH_SECONDS = 5.0
LOSS_READ_EVERY = 50  # training steps between reads of the summed loss (one host sync each)


@dataclass
class NeuralProgress:
    """Where the neural phase stands (saved in the checkpoint)."""

    epoch: int = 0  # epochs completed
    step: int = 0  # batches done in the current epoch
    global_step: int = 0
    best_accuracy: float = -1.0
    best_loss: float = 0.0
    best_epoch: int = 0
    history: list = field(default_factory=list)  # per epoch: validation accuracy and loss
    best_state: dict | None = None  # the neural tensors of the best epoch
    epoch_logits: list = field(default_factory=list)  # validation logits after each epoch (for the curve)
    started_at: float | None = None  # job seconds when the phase began (the schedule's time axis)
    threads: dict = field(default_factory=dict)  # the thread tuner's last summary (for the card)

    @classmethod
    def from_checkpoint(cls, raw: dict) -> "NeuralProgress":
        names = {f.name for f in fields(cls)}
        progress = cls(**{k: v for k, v in raw.items() if k in names})
        progress.epoch_logits = [np.asarray(logits, dtype=np.float32) for logits in progress.epoch_logits]
        return progress


def learning_rate(step: int, total: int, settings: TrainSettings, time_used: float = 0.0) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak, driven by whichever budget runs
    out first: the steps of ``--epochs`` or the neural phase's share of ``--max-minutes``
    (``time_used`` in 0..1)."""
    warmup = min(settings.warmup_steps, total // 10)
    if step < warmup:
        return settings.learning_rate * (step + 1) / warmup
    progress = min(1.0, max((step - warmup) / max(1, total - warmup), time_used))
    return settings.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def make_optimizer(model: SentimentModel, settings: TrainSettings) -> torch.optim.Optimizer:
    """AdamW over the neural part; the bag's table gets ``bag_lr_scale`` times the learning
    rate. On CUDA the fused kernel (its step counters stay on the device: no host reads)."""
    bag = [] if model.bag is None else list(model.bag.parameters())
    skip = {id(p) for p in bag}
    if model.linear is not None:  # trained by its own phase
        skip |= {id(p) for p in model.linear.parameters()}
    rest = [p for p in model.parameters() if id(p) not in skip]
    groups = [{"params": rest, "scale": 1.0}]
    if bag:
        groups.append({"params": bag, "scale": settings.bag_lr_scale})
    fused = next(model.parameters()).device.type == "cuda"
    return torch.optim.AdamW(groups, lr=settings.learning_rate, weight_decay=0.0, fused=fused or None)


@torch.no_grad()
def predict_logits(model: SentimentModel, data: EncodedReviews, device: torch.device, part: str = "neural",
                   batch_size: int = 256) -> np.ndarray:
    """Logits for ``data`` in its order: of the neural part alone (``part="neural"``), the n-gram
    branch alone (``"ngram"``) or the mixed model (``"mixed"``, with each text's word count).
    The outputs stay on the device until one copy back at the end."""
    if part not in ("neural", "ngram", "mixed"):
        raise ValueError(f"unknown part {part!r}")
    model.eval()
    pin = device.type == "cuda"
    outputs, rows = [], []
    for index in length_sorted_batches([len(s) for s in data.sequences], batch_size, rng=None):
        batch = data.batch(index, pin).to(device)
        if part == "ngram":
            out = model.linear(*batch.ngram_branch)
        else:
            out, _ = model(batch.ids, batch.lengths, bag=batch.bag,
                           ngram_branch=batch.ngram_branch if part == "mixed" else None, words=batch.words)
        outputs.append(out.float())
        rows.append(index[batch.order])
    model.train()
    logits = np.zeros(len(data), dtype=np.float32)
    if outputs:
        logits[np.concatenate(rows)] = torch.cat(outputs).cpu().numpy()
    return logits


def neural_epoch_steps(model: SentimentModel, optimizer: torch.optim.Optimizer, data: EncodedReviews,
                       batches: list, progress: NeuralProgress, settings: TrainSettings, total_steps: int,
                       device: torch.device, bar: ProgressBar, stop, time_used, out_of_time,
                       tuner: ThreadTuner) -> str:
    """The step loop of one epoch from ``progress.step``: "done", "stopped" (``stop`` set) or
    "time" (``out_of_time()``). No host synchronisation per step: the loss is summed on the
    device and read every :data:`LOSS_READ_EVERY` steps; batches come from pinned memory.
    ``tuner`` times CPU steps by the words they read."""
    pin = device.type == "cuda"
    running = RunningLoss(LOSS_READ_EVERY)
    for index in batches[progress.step:]:
        batch = data.batch(index, pin).to(device)
        rate = learning_rate(progress.global_step, total_steps, settings, time_used())
        for group in optimizer.param_groups:
            group["lr"] = rate * group["scale"]
        _, loss = model(batch.ids, batch.lengths, targets=batch.targets, bag=batch.bag)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        optimizer.step()
        if tuner.enabled:  # the words the step read, counted on the host
            tuner.step(sum(len(data.sequences[i]) for i in index))
        progress.step += 1
        progress.global_step += 1
        running.add(loss)
        bar.update(advance=len(index))
        if running.due():
            bar.update(loss=running.read())
        if stop:
            return "stopped"
        if out_of_time():
            return "time"
    return "done"


def neural_phase(model: SentimentModel, optimizer: torch.optim.Optimizer, prepared: Prepared,
                 settings: TrainSettings, progress: NeuralProgress, clock: Clock, stop, device: torch.device) -> str:
    """Train the neural part epoch by epoch from where ``progress`` stands, validating after
    each and keeping the best (accuracy, then loss); ends with the best weights in ``model``.
    Returns "done", "time" (the budget ended) or "stopped" (a signal: save a checkpoint)."""
    train, valid = prepared.train, prepared.valid
    crops = crop_count(settings.sentence_crops, len(train)) if prepared.train_sentences else 0
    total_steps = settings.epochs * math.ceil((len(train) + crops) / settings.batch_size)
    if progress.started_at is None:
        progress.started_at = clock.used()
    window = None if clock.total is None else (progress.started_at, clock.total - FINISH_SECONDS)
    valid_seconds = [None]  # the last validation's duration (an estimate until one has run)
    first_step_done = [None]  # (time, step) after this run's first step
    epoch_start = [time.perf_counter()]

    def time_used() -> float:
        if window is None:
            return 0.0
        return (clock.used() - window[0]) / max(1e-9, window[1] - window[0])

    def out_of_time() -> bool:
        if window is None:
            return False
        estimate = valid_seconds[0]
        if estimate is None:  # forward only, no gradients, length-sorted batches of 256: measured
            # 0.14 of a training step's time per review on IMDb (1x128 BiLSTM); 0.25 to be safe.
            # Timed from the end of the first step (which sets things up and can take seconds).
            if first_step_done[0] is None:
                first_step_done[0] = (time.perf_counter(), progress.step)
            seconds, steps = time.perf_counter() - first_step_done[0][0], progress.step - first_step_done[0][1]
            estimate = 0.25 * seconds / steps * len(valid) / settings.batch_size if steps else 0.0
        if clock.used() + estimate < window[1]:
            return False
        say(f"time limit: the neural part stops after {progress.step} batches of epoch {progress.epoch + 1} "
            f"({max(0.0, clock.total - clock.used()):.0f} s left, about {estimate:.0f} s of them to "
            f"validate, {FINISH_SECONDS:.0f} s to finish)")
        return True

    outcome = "done"
    with tuned_threads(device, settings.threads) as tuner:  # every core or one, whichever is faster now
        while progress.epoch < settings.epochs:
            epoch = progress.epoch
            epoch_start[0] = time.perf_counter()
            data = train if not crops else with_crops(train, sentence_crops(
                prepared.train_sentences, train.labels, settings.sentence_crops, settings.seed, epoch,
                make_encoder(prepared.config, prepared.vocab)))
            batches = length_sorted_batches([len(s) for s in data.sequences], settings.batch_size,
                                            np.random.default_rng(settings.seed * 1000 + epoch))
            with ProgressBar(total=len(data), description=f"epoch {epoch + 1}/{settings.epochs}", unit="reviews") as bar:
                bar.update(completed=sum(len(b) for b in batches[: progress.step]))
                outcome = neural_epoch_steps(model, optimizer, data, batches, progress, settings, total_steps, device,
                                             bar, stop, time_used, out_of_time, tuner)
                progress.threads = tuner.summary()
                if outcome == "stopped":
                    return outcome
                if device.type == "cuda":
                    torch.cuda.synchronize(device)  # once per epoch: the steps' time, not their launches
                started = time.perf_counter()
                train_seconds = started - epoch_start[0]
                logits = predict_logits(model, valid, device)
                valid_seconds[0] = time.perf_counter() - started
                valid_accuracy, valid_loss = accuracy(logits, valid.labels), log_loss(logits, valid.labels)
                bar.update(valid_acc=round(valid_accuracy, 4))
            partial = progress.step < len(batches)
            progress.history.append({"epoch": epoch + 1, "valid_accuracy": round(valid_accuracy, 4),
                                     "valid_loss": round(valid_loss, 4), "partial": partial,
                                     "train_seconds": round(train_seconds, 2), "valid_seconds": round(valid_seconds[0], 2)})
            progress.epoch_logits.append(logits)
            note = " (time limit reached mid-epoch)" if partial else ""
            say(f"epoch {epoch + 1}: validation accuracy {valid_accuracy:.4f}, loss {valid_loss:.4f}{note}")
            if (valid_accuracy, -valid_loss) > (progress.best_accuracy, -progress.best_loss):
                progress.best_accuracy, progress.best_loss, progress.best_epoch = valid_accuracy, valid_loss, epoch + 1
                progress.best_state = model.neural_state()
            if partial:
                break
            progress.epoch += 1
            progress.step = 0
    model.load_state_dict(progress.best_state, strict=False)
    return outcome
