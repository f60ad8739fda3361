"""Training a sentiment model, in named stages (:func:`train_sentiment` runs them in order,
after :func:`plan_run` has settled what a ``--resume`` continues and :func:`start_or_restore`
has built or restored the model):

1. :func:`prepare`: read the train split, hold out the validation part (or read
   ``--valid-data``), tokenize, build the vocabulary on the training part, encode both parts;
2. :func:`ngram_phase`: the n-gram branch (rate search, :mod:`textlab.sentiment.linear`). It
   runs first because it is cheap and bounded: under ``--max-minutes`` it gets at most
   :data:`NGRAM_SHARE` of the time left after preparing, and the neural phase the rest;
3. :func:`neural_phase`: AdamW over length-sorted batches, validation after every epoch, the
   best epoch kept;
4. :func:`mix_stage`: the logit mix fitted on the validation part, or one part alone when it
   scores higher there (the saved model is never worse on validation than its best part);
5. :func:`calibrate_stage`: the temperature of :mod:`textlab.sentiment.calibrate`;
6. :func:`save_stage`: the model directory, its card and ``curve.png`` (every part per epoch);
   stages 4-6 run in :func:`finish`.

``--max-minutes`` bounds the whole job (preparing counts; each part trains at least one batch),
``--epochs`` bounds every part (the n-gram branch trains at most that many epochs per rate).
SIGINT/SIGTERM save a checkpoint for ``--resume``; a resumed run follows :mod:`textlab.resume`:
``--epochs``, ``--max-minutes`` and ``--device`` may change (and the card records the values
that ran), every other option defines the model or its data and is refused if it differs.

The IMDb test split is never read here: model selection uses the validation part only. On
CUDA the step loops make no host synchronisation (losses are summed on the device and read
every :attr:`RunningLoss.every` steps; batches are copied from pinned memory asynchronously).
"""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from textlab.atomic import check_writable_target
from textlab.data.reviews import ReadStats, iter_reviews
from textlab.errors import DataError, TrainingInterrupted, UsageError
from textlab.plots import CURVE_FILE, render_training_curve
from textlab.resume import reconcile
from textlab.runtime.checkpoints import checkpoint_dir_for, load_checkpoint, save_checkpoint
from textlab.runtime.device import pick_device, torch_threads
from textlab.runtime.output import console
from textlab.runtime.progress import ProgressBar
from textlab.runtime.seeding import rng_state, seed_everything, set_rng_state
from textlab.runtime.signals import graceful_stop
from textlab.sentiment.calibrate import Calibration, expected_calibration_error, fit_calibration, snippets
from textlab.sentiment.config import SPECIALS, SentimentConfig, TrainSettings
from textlab.sentiment.data import (
    EncodedReviews, build_vocab, encode_reviews, length_sorted_batches, tokenize_texts,
)
from textlab.sentiment.linear import (
    LinearSettings, RunningLoss, accuracy, dequantize_int8, fit_mix, log_loss, quantize_int8, train_linear,
)
from textlab.sentiment.model import SentimentModel
from textlab.sentiment.saved import make_encoder, save_sentiment
from textlab.sentiment.word2vec_init import init_embedding, word2vec_dim
from textlab.text import Vocab, detect_lang


#: Options a resumed run may change (how long, on what): applied, and recorded in the card.
RESUME_CHANGEABLE = ("epochs", "max_minutes", "device")
#: How options are spelled in the one-line refusal when it is not ``--name-with-dashes``.
OPTION_FLAGS = {"dataset": "DATASET", "bidirectional": "--bidirectional/--no-bidirectional"}
#: Under --max-minutes, the n-gram branch gets at most this share of the time left after
#: preparing (on IMDb it needs ~4 s an epoch here, ~1 min for 3 rates x 5 epochs, against
#: ~3 min per neural epoch) and the neural part gets the rest.
NGRAM_SHARE = 1 / 3
#: Seconds kept at the end of a --max-minutes budget for the mix, the calibration and saving,
#: on top of one validation pass of the neural part (estimated from its speed).
FINISH_SECONDS = 5.0
LOSS_READ_EVERY = 50  # training steps between reads of the summed loss (one host sync each)


# --------------------------------------------------------------------------- options and time


def run_options(dataset: str, config: SentimentConfig, settings: TrainSettings, pretrained_w2v: str | None) -> dict:
    """A run's options by their ``train-sentiment`` names and meanings (what ``--resume``
    compares with what is typed again); ``vocab_size`` counts words, as ``--vocab-size`` does."""
    return {"dataset": str(dataset), "pretrained_w2v": pretrained_w2v, **asdict(config), **asdict(settings),
            "vocab_size": config.vocab_size - SPECIALS}


class Clock:
    """The job's time under ``--max-minutes``: seconds used across interrupted and resumed runs."""

    def __init__(self, used_before: float, max_minutes: float | None):
        self.started = time.perf_counter()
        self.used_before = used_before
        self.total = None if max_minutes is None else max_minutes * 60.0

    def used(self) -> float:
        return self.used_before + time.perf_counter() - self.started

    def left(self) -> float | None:
        return None if self.total is None else self.total - self.used()

    def deadline(self, seconds: float) -> float:
        """``time.perf_counter()`` value ``seconds`` from now."""
        return time.perf_counter() + max(0.0, seconds)


# --------------------------------------------------------------------------- 1. prepare


def read_labelled(dataset: str, split: str = "train") -> tuple[list[str], list[int], ReadStats]:
    stats = ReadStats()
    texts, labels = [], []
    for text, label in iter_reviews(dataset, split, stats):
        texts.append(text)
        labels.append(label)
    if stats.skipped:
        console.print(f"[yellow]{stats.skipped} malformed rows skipped (first: {stats.first_problem})")
    return texts, labels, stats


def guess_lang(texts: list[str]) -> str:
    sample = texts[:500]
    zh = sum(detect_lang(t) == "zh" for t in sample)
    return "zh" if zh * 2 > len(sample) else "en"


def split_indices(n: int, valid_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if not 0.0 < valid_fraction < 1.0:
        raise UsageError("--valid-fraction must be between 0 and 1 (exclusive)")
    if n < 2:
        raise DataError(f"need at least 2 labelled reviews to train, found {n}")
    order = np.random.default_rng(seed).permutation(n)
    n_valid = min(n - 1, max(1, round(n * valid_fraction)))
    return order[n_valid:], order[:n_valid]



def append_validation(texts: list[str], labels: list[int], valid_data: str) -> tuple[np.ndarray, np.ndarray]:
    """Append the reviews of ``valid_data`` (read like DATASET) to ``texts``/``labels``; returns
    (train indices, validation indices)."""
    valid_texts, valid_labels, _ = read_labelled(valid_data, "train")
    if not valid_texts:
        raise DataError(f"{valid_data}: no labelled reviews to validate on")
    if len(set(valid_labels)) < 2:
        raise DataError(f"{valid_data}: the validation set needs both positive and negative reviews")
    if not texts:
        raise DataError("no labelled reviews to train on")
    n = len(texts)
    texts.extend(valid_texts)
    labels.extend(valid_labels)
    return np.arange(n), np.arange(n, len(texts))


@dataclass
class Prepared:
    """What the training stages work on."""

    config: SentimentConfig  # resolved: language and n-gram units settled, vocabulary size real
    vocab: Vocab
    train: EncodedReviews
    valid: EncodedReviews
    valid_tokens: list  # token lists of the validation part (the calibration cuts snippets from them)
    data: dict  # the card's "data" section


def prepare(dataset: str, config: SentimentConfig, settings: TrainSettings, pretrained_w2v: str | None,
            saved_vocab: str | None = None) -> Prepared:
    """Read, split, tokenize, build the vocabulary (or take the checkpoint's) and encode."""
    texts, labels, stats = read_labelled(dataset, "train")
    if texts and len(set(labels)) < 2:
        raise DataError(f"{dataset}: a sentiment classifier needs both positive and negative reviews "
                        f"(every review here is labelled {labels[0]})")
    lang = guess_lang(texts) if config.lang == "auto" else config.lang
    if settings.valid_data:
        train_idx, valid_idx = append_validation(texts, labels, settings.valid_data)
    else:
        train_idx, valid_idx = split_indices(len(texts), settings.valid_fraction, settings.seed)
    console.print(f"{len(texts):,} labelled reviews ({sum(labels):,} positive): {len(train_idx):,} train, "
                  f"{len(valid_idx):,} validation; tokenizing ({lang})...")
    token_lists = list(tokenize_texts(texts, lang))
    del texts
    if saved_vocab is not None:
        vocab = Vocab.from_tsv(saved_vocab, where="the checkpoint's vocabulary")
    else:
        vocab = build_vocab((token_lists[i] for i in train_idx), config.vocab_size - SPECIALS)
    embed_dim = config.embed_dim
    if pretrained_w2v:
        dim = word2vec_dim(pretrained_w2v)
        if dim != embed_dim:
            console.print(f"[yellow]--embed-dim {embed_dim} differs from the word2vec dimension {dim}: using {dim}")
            embed_dim = dim
    resolved = config.resolved(lang)
    resolved = SentimentConfig(**{**asdict(resolved), "vocab_size": len(vocab), "embed_dim": embed_dim})
    encoder = make_encoder(resolved, vocab)
    train = encode_reviews(token_lists, train_idx, labels, encoder)
    valid = encode_reviews(token_lists, valid_idx, labels, encoder)
    data = {"dataset": str(dataset), "split": "train", "reviews": len(train) + len(valid), "train": len(train),
            "valid": len(valid), "valid_data": settings.valid_data, "skipped_rows": stats.skipped,
            "tokens_unk_rate": round(vocab.unk_rate(), 4)}
    return Prepared(resolved, vocab, train, valid, [token_lists[i] for i in valid_idx], data)


# --------------------------------------------------------------------------- 2. n-gram phase


def ngram_phase(model: SentimentModel, prepared: Prepared, settings: TrainSettings, clock: Clock, stop,
                device: torch.device) -> dict | None:
    """Train the n-gram branch (at most ``--epochs`` epochs per rate, within its share of the
    time), store it in ``model.linear`` as the saved model will hold it (int8), and return what
    the later stages need: metrics, per-epoch history, validation logits. None if stopped."""
    left = clock.left()
    deadline = None if left is None else clock.deadline(left * NGRAM_SHARE)
    linear_settings = LinearSettings(seed=settings.seed)
    linear_settings.epochs = min(linear_settings.epochs, settings.epochs)
    linear, info = train_linear(prepared.train.ngram_branch, prepared.train.labels, prepared.valid.ngram_branch,
                                prepared.valid.labels, model.config.ngram_branch_buckets, linear_settings,
                                log=console.print, stop=stop, device=device, deadline=deadline)
    if linear is None:
        return None
    with torch.no_grad():  # measure (and mix) exactly what is stored: the table as int8
        linear.weight.weight.copy_(dequantize_int8(*quantize_int8(linear.weight.weight)))
        model.linear.load_state_dict(linear.state_dict())
    from textlab.sentiment.linear import linear_logits

    valid_logits = linear_logits(model.linear, prepared.valid.ngram_branch)
    return {"valid_logits": valid_logits, "history": info["history"],
            "metrics": {"ngram_branch_valid_accuracy": round(accuracy(valid_logits, prepared.valid.labels), 4),
                        "ngram_branch_best_epoch": info["best_epoch"],
                        "ngram_branch_learning_rate": info["learning_rate"],
                        "ngram_branch_epochs_run": info["epochs_run"]}}


# --------------------------------------------------------------------------- 3. neural phase


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
def predict_logits(model: SentimentModel, data: EncodedReviews, device: torch.device, with_ngram_branch: bool = False,
                   batch_size: int = 256) -> np.ndarray:
    """Logits for ``data`` in its order: the neural part alone, or the mixed model. The outputs
    stay on the device until one copy back at the end."""
    model.eval()
    pin = device.type == "cuda"
    outputs, rows = [], []
    for index in length_sorted_batches([len(s) for s in data.sequences], batch_size, rng=None):
        batch = data.batch(index, pin).to(device)
        out, _ = model(batch.ids, batch.lengths, bag=batch.bag,
                       ngram_branch=batch.ngram_branch if with_ngram_branch else None)
        outputs.append(out.float())
        rows.append(index[batch.order])
    model.train()
    logits = np.zeros(len(data), dtype=np.float32)
    if outputs:
        logits[np.concatenate(rows)] = torch.cat(outputs).cpu().numpy()
    return logits


def neural_epoch_steps(model: SentimentModel, optimizer: torch.optim.Optimizer, data: EncodedReviews,
                       batches: list, progress: NeuralProgress, settings: TrainSettings, total_steps: int,
                       device: torch.device, bar: ProgressBar, stop, time_used, out_of_time) -> str:
    """The step loop of one epoch from ``progress.step``: "done", "stopped" (``stop`` set) or
    "time" (``out_of_time()``). No host synchronisation per step: the loss is summed on the
    device and read every :data:`LOSS_READ_EVERY` steps; batches come from pinned memory."""
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
    lengths = [len(s) for s in train.sequences]
    total_steps = settings.epochs * math.ceil(len(train) / settings.batch_size)
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
        console.print(f"time limit: the neural part stops after {progress.step} batches of epoch {progress.epoch + 1} "
                      f"({max(0.0, clock.total - clock.used()):.0f} s left, about {estimate:.0f} s of them to "
                      f"validate, {FINISH_SECONDS:.0f} s to finish)")
        return True

    outcome = "done"
    while progress.epoch < settings.epochs:
        epoch = progress.epoch
        batches = length_sorted_batches(lengths, settings.batch_size, np.random.default_rng(settings.seed * 1000 + epoch))
        epoch_start[0] = time.perf_counter()
        with ProgressBar(total=len(train), description=f"epoch {epoch + 1}/{settings.epochs}", unit="reviews") as bar:
            bar.update(completed=sum(len(b) for b in batches[: progress.step]))
            outcome = neural_epoch_steps(model, optimizer, train, batches, progress, settings, total_steps, device,
                                         bar, stop, time_used, out_of_time)
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
        console.print(f"epoch {epoch + 1}: validation accuracy {valid_accuracy:.4f}, loss {valid_loss:.4f}{note}")
        if (valid_accuracy, -valid_loss) > (progress.best_accuracy, -progress.best_loss):
            progress.best_accuracy, progress.best_loss, progress.best_epoch = valid_accuracy, valid_loss, epoch + 1
            progress.best_state = model.neural_state()
        if partial:
            break
        progress.epoch += 1
        progress.step = 0
    model.load_state_dict(progress.best_state, strict=False)
    return outcome


# --------------------------------------------------------------------------- 4. mix


def choose_mix(neural: np.ndarray, ngram: np.ndarray, labels) -> tuple[torch.Tensor, str, dict]:
    """The mix to save: the one fitted on the validation part, unless a part alone scores a
    higher validation accuracy (then that part alone: the saved model is never worse on
    validation than its best part). Returns (mix, which, validation accuracy per candidate).
    A validation part with one label cannot choose (a fitted mix would learn a constant
    answer): the two logits are added."""
    if len(set(labels)) < 2:
        return torch.tensor([1.0, 1.0, 0.0]), "sum (one label in the validation part)", {}
    fitted = fit_mix(neural, ngram, labels)
    candidates = {"fitted mix": fitted, "neural part alone": torch.tensor([1.0, 0.0, 0.0]),
                  "n-gram branch alone": torch.tensor([0.0, 1.0, 0.0])}
    scores = {}
    for name, mix in candidates.items():
        logits = float(mix[0]) * neural + float(mix[1]) * ngram + float(mix[2])
        scores[name] = (accuracy(logits, labels), -log_loss(logits, labels))
    which = "fitted mix"
    for name in ("neural part alone", "n-gram branch alone"):
        if scores[name][0] > scores[which][0]:
            which = name
    return candidates[which], which, {name: round(score[0], 4) for name, score in scores.items()}


def mix_stage(model: SentimentModel, prepared: Prepared, progress: NeuralProgress, ngram: dict | None) -> dict:
    """Set ``model.mix`` and return the metrics of the parts and of the saved model."""
    labels = prepared.valid.labels
    neural = progress.epoch_logits[progress.best_epoch - 1]
    metrics = {"neural_valid_accuracy": round(accuracy(neural, labels), 4)}
    if ngram is None:
        metrics.update({"valid_accuracy": metrics["neural_valid_accuracy"], "valid_loss": round(log_loss(neural, labels), 4)})
        return {"metrics": metrics, "valid_logits": neural}
    mix, which, candidates = choose_mix(neural, ngram["valid_logits"], labels)
    model.mix.copy_(mix.to(model.mix.device))
    mixed = float(mix[0]) * neural + float(mix[1]) * ngram["valid_logits"] + float(mix[2])
    metrics.update(ngram["metrics"])
    metrics.update({"mix": [round(float(v), 4) for v in mix], "mix_choice": which, "mix_candidates": candidates,
                    "valid_accuracy": round(accuracy(mixed, labels), 4), "valid_loss": round(log_loss(mixed, labels), 4)})
    if not candidates:
        console.print("[yellow]the validation part holds one label only: the two parts' logits are added, not fitted")
    elif which != "fitted mix":
        console.print(f"[yellow]the fitted mix scored {candidates['fitted mix']:.4f} on validation, the {which} "
                      f"{candidates[which]:.4f}: the model answers with the {which}")
    return {"metrics": metrics, "valid_logits": mixed}


# --------------------------------------------------------------------------- 5. calibrate


def calibrate_stage(model: SentimentModel, prepared: Prepared, valid_logits: np.ndarray, seed: int,
                    device: torch.device) -> tuple[Calibration, dict]:
    """Fit the length-dependent temperature on the validation reviews and snippets of them."""
    labels = np.asarray(prepared.valid.labels)
    encoder = make_encoder(prepared.config, prepared.vocab)
    snippet_tokens, snippet_labels = snippets(prepared.valid_tokens, labels, seed)
    snippet_set = encode_reviews(snippet_tokens, range(len(snippet_tokens)), snippet_labels, encoder)
    snippet_logits = predict_logits(model, snippet_set, device, with_ngram_branch=True) if len(snippet_set) else \
        np.zeros(0, dtype=np.float32)
    words = np.asarray(prepared.valid.words + snippet_set.words, dtype=np.float64)
    logits = np.concatenate([valid_logits, snippet_logits])
    all_labels = np.concatenate([labels, np.asarray(snippet_labels, dtype=labels.dtype)])
    calibration = fit_calibration(logits, words, all_labels)

    def ece(z, n, y, calibrated):
        z = calibration.apply(z, n) if calibrated else z
        return round(expected_calibration_error(1 / (1 + np.exp(-np.clip(z, -80, 80))), y), 4)

    n_valid = np.asarray(prepared.valid.words, dtype=np.float64)
    n_snip = np.asarray(snippet_set.words, dtype=np.float64)
    report = {"temperature": calibration.to_dict(), "formula": "P(positive) = sigmoid(logit / (base + scale * words ** -power))",
              "fitted_on": f"the validation part ({len(labels):,} reviews) and one snippet of 1-64 words of each "
                           f"({len(snippet_set):,}, labelled with its review's label)",
              "valid_ece_before": ece(valid_logits, n_valid, labels, False), "valid_ece": ece(valid_logits, n_valid, labels, True),
              "snippet_ece_before": ece(snippet_logits, n_snip, np.asarray(snippet_labels), False),
              "snippet_ece": ece(snippet_logits, n_snip, np.asarray(snippet_labels), True)}
    return calibration, report


# --------------------------------------------------------------------------- 6. save


def training_curve(progress: NeuralProgress, ngram: dict | None, prepared: Prepared, metrics: dict,
                   title: str) -> bytes | None:
    """Validation loss per epoch of every part (neural, n-gram branch at its chosen rate, and
    the mix the model would have with the neural part of that epoch) and the mixed model's
    validation accuracy; the legend gives the validation accuracy of what was kept."""
    labels = prepared.valid.labels
    losses = {f"neural part (kept: acc {metrics['neural_valid_accuracy']:.4f})":
              [h["valid_loss"] for h in progress.history]}
    accuracies = {}
    if ngram is not None:
        losses[f"n-gram branch (kept: acc {metrics['ngram_branch_valid_accuracy']:.4f})"] = \
            [h["valid_loss"] for h in ngram["history"]]
        mixed_loss, mixed_accuracy = [], []
        for neural in progress.epoch_logits:
            mix, _, _ = choose_mix(neural, ngram["valid_logits"], labels)
            mixed = float(mix[0]) * neural + float(mix[1]) * ngram["valid_logits"] + float(mix[2])
            mixed_loss.append(round(log_loss(mixed, labels), 4))
            mixed_accuracy.append(round(accuracy(mixed, labels), 4))
        losses[f"mixed (saved: acc {metrics['valid_accuracy']:.4f})"] = mixed_loss
        accuracies["mixed valid accuracy"] = mixed_accuracy
    else:
        accuracies["neural valid accuracy"] = [h["valid_accuracy"] for h in progress.history]
    return render_training_curve({f"valid loss: {k}": v for k, v in losses.items()}, title, secondary=accuracies)


def save_stage(output: Path, model: SentimentModel, prepared: Prepared, metrics: dict, calibration: Calibration,
               calibration_report: dict, curve: bytes | None, command: str, extra: dict, force: bool) -> None:
    save_sentiment(output, model, prepared.vocab, prepared.data, metrics, command=command,
                   extra={**extra, "calibration_fit": calibration_report}, force=force,
                   extra_files={CURVE_FILE: curve} if curve else None, calibration=calibration)


# --------------------------------------------------------------------------- the job


def resume_command(command: str, dataset: str, output: Path) -> str:
    if command:
        return command if " --resume" in command else f"{command} --resume"
    return f"textlab train-sentiment {dataset} <same options> -o {output} --resume"


@dataclass
class Run:
    """What this run trains: the options as given, or the checkpoint's with the changeable
    options given again applied (the shared rule of :mod:`textlab.resume`)."""

    dataset: str
    config: SentimentConfig
    settings: TrainSettings
    pretrained_w2v: str | None
    options: dict  # by train-sentiment option name (saved in the checkpoint)
    command: str  # the command that started the run
    resumes: list  # {"command", "applied"} per resumed run
    saved: dict | None  # the checkpoint resumed from


def plan_run(dataset: str, config: SentimentConfig, settings: TrainSettings, pretrained_w2v: str | None,
             command: str, resume: bool, given: dict | None, ckpt: Path) -> Run:
    options = run_options(dataset, config, settings, pretrained_w2v)
    if not resume:
        return Run(str(dataset), config, settings, pretrained_w2v, options, command, [], None)
    saved = load_checkpoint(ckpt)
    if "options" not in saved or "settings" not in saved:
        raise DataError(f"{ckpt} was written by an older textlab; start again without --resume")
    applied = reconcile(saved["options"], options if given is None else given, RESUME_CHANGEABLE,
                        where=f"the checkpoint {ckpt}", flags=OPTION_FLAGS)
    if applied:
        console.print("resuming with " + ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in applied.items()))
    return Run(saved["options"]["dataset"], SentimentConfig(**saved["config"]),
               TrainSettings(**{**saved["settings"], **applied}), saved["options"]["pretrained_w2v"],
               {**saved["options"], **applied}, saved["command"],
               [*saved["resumes"], {"command": command, "applied": applied}], saved)


@dataclass
class TrainingState:
    """Everything a checkpoint holds besides the run's options."""

    model: SentimentModel
    optimizer: torch.optim.Optimizer
    progress: NeuralProgress
    ngram: dict | None  # the n-gram phase's result, once it has run
    w2v: dict | None  # what --pretrained-w2v initialised


def start_or_restore(prepared: Prepared, run: Run, device: torch.device) -> TrainingState:
    """A fresh model (its embedding from --pretrained-w2v, on the CPU before it moves to the
    device), or the checkpoint's model, optimizer, RNG states and progress."""
    model = SentimentModel(prepared.config)
    w2v = None
    if run.pretrained_w2v and run.saved is None:
        w2v = init_embedding(model.embedding, prepared.vocab, run.pretrained_w2v)
        console.print(f"embedding initialised from {w2v['model']}: {w2v['covered']:,} of {len(prepared.vocab):,} words")
    model.to(device)
    state = TrainingState(model, make_optimizer(model, run.settings), NeuralProgress(), None, w2v)
    saved = run.saved
    if saved is not None:
        model.load_state_dict(saved["model"])
        state.optimizer.load_state_dict(saved["optimizer"])
        set_rng_state(saved["rng"])
        if device.type == "cuda" and saved.get("cuda_rng"):  # dropout on the GPU draws from these
            torch.cuda.set_rng_state_all(list(saved["cuda_rng"]))
        state.progress, state.ngram, state.w2v = NeuralProgress.from_checkpoint(saved["neural"]), saved["ngram"], saved["w2v"]
        if state.ngram is not None:
            state.ngram["valid_logits"] = np.asarray(state.ngram["valid_logits"], dtype=np.float32)
        console.print(f"resuming at epoch {state.progress.epoch + 1}, batch {state.progress.step}"
                      if state.ngram is not None or model.linear is None else "resuming: the n-gram branch starts again")
    return state


def checkpoint_and_stop(ckpt: Path, run: Run, prepared: Prepared, state: TrainingState, clock: Clock,
                        device: torch.device, output: Path, signum: int | None) -> None:
    """Save everything ``--resume`` needs, then raise :class:`TrainingInterrupted`."""
    save_checkpoint(ckpt, {
        "options": run.options, "config": asdict(prepared.config), "settings": asdict(run.settings),
        "command": run.command, "resumes": run.resumes, "vocab": prepared.vocab.to_tsv(), "w2v": state.w2v,
        "elapsed": clock.used(), "ngram": state.ngram, "neural": asdict(state.progress),
        "model": state.model.state_dict(), "optimizer": state.optimizer.state_dict(), "rng": rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if device.type == "cuda" else None})
    latest = run.resumes[-1]["command"] if run.resumes else run.command
    raise TrainingInterrupted(f"training interrupted; checkpoint saved in {ckpt}; resume with: "
                              f"{resume_command(latest, run.dataset, output)}", signum)


def finish(output: Path, run: Run, prepared: Prepared, state: TrainingState, clock: Clock, seconds: dict,
           device: torch.device, force: bool) -> dict:
    """Stages 4-6: mix, calibrate, save. Returns the card's metrics."""
    started = clock.used()
    model, progress, ngram = state.model, state.progress, state.ngram
    mixed = mix_stage(model, prepared, progress, ngram)
    metrics = mixed["metrics"]
    calibration, report = calibrate_stage(model, prepared, mixed["valid_logits"], run.settings.seed, device)
    seconds["mix_and_calibration"] = round(clock.used() - started, 2)
    metrics.update({"best_epoch": progress.best_epoch, "history": progress.history,
                    "train_minutes": round(clock.used() / 60, 2), "device": str(device), "seconds": seconds,
                    "valid_ece": report["valid_ece"]})
    if ngram is not None:
        metrics["ngram_branch_history"] = ngram["history"]
        console.print(f"n-gram branch {metrics['ngram_branch_valid_accuracy']:.4f}, neural "
                      f"{metrics['neural_valid_accuracy']:.4f}, saved model {metrics['valid_accuracy']:.4f} "
                      f"(validation accuracy; {metrics['mix_choice']} {metrics['mix']})")
    prepared.data["pretrained_w2v"] = state.w2v
    curve = training_curve(progress, ngram, prepared, metrics, f"sentiment: {Path(run.dataset).name}")
    extra = {"training": asdict(run.settings), **({"resumed": run.resumes} if run.resumes else {})}
    save_stage(output, model, prepared, metrics, calibration, report, curve, run.command, extra, force)
    return metrics


def train_sentiment(dataset: str, config: SentimentConfig, settings: TrainSettings, output: Path,
                    force: bool = False, resume: bool = False, pretrained_w2v: str | None = None,
                    command: str = "", given: dict | None = None) -> dict:
    """Train and save a sentiment model; returns a summary (validation accuracy, sizes, path).

    ``given``: with ``resume``, the options typed on this command line (by ``train-sentiment``
    parameter name, see :func:`textlab.cli.options.given_options`); None (an API call) compares
    every option of ``config`` and ``settings`` with the checkpoint's."""
    output = Path(output)
    check_writable_target(output, force, "model")
    ckpt = checkpoint_dir_for(output)
    run = plan_run(dataset, config, settings, pretrained_w2v, command, resume, given, ckpt)
    seed_everything(run.settings.seed)
    device = pick_device(run.settings.device)
    clock = Clock(0.0 if run.saved is None else float(run.saved["elapsed"]), run.settings.max_minutes)
    with torch_threads(run.settings.threads if device.type == "cpu" else 0):
        prepared = prepare(run.dataset, run.config, run.settings, run.pretrained_w2v if run.saved is None else None,
                           None if run.saved is None else run.saved["vocab"])
        if run.saved is not None and asdict(prepared.config) != run.saved["config"]:
            raise DataError(f"{ckpt}: the data no longer gives the model the checkpoint describes; "
                            "start again without --resume")
        state = start_or_restore(prepared, run, device)
        seconds = {"prepare": round(clock.used() - clock.used_before, 2)}  # this run's stages
        with graceful_stop() as stop:
            if state.model.linear is not None and state.ngram is None:
                started = clock.used()
                state.ngram = ngram_phase(state.model, prepared, run.settings, clock, stop, device)
                if state.ngram is None:
                    checkpoint_and_stop(ckpt, run, prepared, state, clock, device, output, stop.signum)
                seconds["ngram_branch"] = round(clock.used() - started, 2)
            started = clock.used()
            outcome = neural_phase(state.model, state.optimizer, prepared, run.settings, state.progress, clock, stop,
                                   device)
            if outcome == "stopped":
                checkpoint_and_stop(ckpt, run, prepared, state, clock, device, output, stop.signum)
            seconds["neural"] = round(clock.used() - started, 2)
        metrics = finish(output, run, prepared, state, clock, seconds, device, force)
    shutil.rmtree(ckpt, ignore_errors=True)
    return {"path": str(output), "valid_accuracy": metrics["valid_accuracy"], "best_epoch": state.progress.best_epoch,
            "train": len(prepared.train), "valid": len(prepared.valid), "vocab_size": len(prepared.vocab),
            "minutes": metrics["train_minutes"], "valid_ece": metrics["valid_ece"]}
