"""Training: read the train split, hold out a validation part of it, build the vocabulary on
the rest, train with AdamW over length-sorted batches, validate after every epoch and keep the
best epoch. ``--max-minutes`` stops cleanly; SIGINT/SIGTERM save a checkpoint for ``--resume``.

The IMDb test split is never read here: model selection uses the validation part only.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from textlab.atomic import check_writable_target
from textlab.data.reviews import ReadStats, iter_reviews
from textlab.errors import DataError, TrainingInterrupted, UsageError
from textlab.plots import CURVE_FILE, render_training_curve
from textlab.runtime import (
    checkpoint_dir_for,
    ProgressBar, Timer, console, graceful_stop, load_checkpoint, pick_device, rng_state,
    save_checkpoint, seed_everything, set_rng_state,
)
from textlab.sentiment.data import Encoder, build_vocab, collate, length_sorted_batches, tokenize_texts
from textlab.sentiment.linear import (
    LinearSettings, dequantize_int8, fit_mix, linear_logits, quantize_int8, train_linear,
)
from textlab.sentiment.linear import accuracy as linear_accuracy
from textlab.sentiment.model import SentimentConfig, SentimentModel
from textlab.sentiment.saved import make_encoder, save_sentiment
from textlab.sentiment.word2vec_init import init_embedding, word2vec_dim
from textlab.text import Vocab, detect_lang


@dataclass
class TrainSettings:
    epochs: int = 6
    batch_size: int = 64
    learning_rate: float = 2e-3
    bag_lr_scale: float = 5.0  # the bag-of-n-grams table learns faster (fastText uses a high rate)
    warmup_steps: int = 100
    grad_clip: float = 1.0
    valid_fraction: float = 0.1
    valid_data: str | None = None  # a labelled set to validate on instead of holding out valid_fraction
    max_minutes: float | None = None
    seed: int = 1
    device: str = "auto"
    threads: int = 1  # CPU threads for torch: small recurrent matmuls gain little from more, and
    # OpenMP barriers stall badly when other jobs share the cores


@dataclass
class Encoded:
    sequences: list = field(default_factory=list)  # np.int32 arrays (truncated word ids)
    bags: list = field(default_factory=list)  # np.int64 arrays (n-gram ids)
    labels: list = field(default_factory=list)
    linear: list = field(default_factory=list)  # np.int32 arrays (n-gram-branch ids) or None

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, index):
        return collate([self.sequences[i] for i in index], [self.bags[i] for i in index],
                       [self.labels[i] for i in index], linear=[self.linear[i] for i in index])


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


def default_units(lang: str) -> str:
    """Word n-grams for English; words and characters for Chinese (segmentation errs)."""
    return "words+chars" if lang == "zh" else "words"


def encode_all(token_lists, indices, labels, encoder: Encoder) -> Encoded:
    encoded = Encoded()
    for i in indices:
        seq, bag, linear = encoder.encode(token_lists[i])
        encoded.sequences.append(seq)
        encoded.bags.append(bag)
        encoded.linear.append(linear)
        encoded.labels.append(labels[i])
    return encoded


@torch.no_grad()
def predict_logits(model: SentimentModel, data: Encoded, device: torch.device, with_linear: bool = False,
                   batch_size: int = 256) -> np.ndarray:
    """Logits for ``data`` in its order: the neural part alone, or the mixed model."""
    model.eval()
    logits = np.zeros(len(data), dtype=np.float32)
    for index in length_sorted_batches([len(s) for s in data.sequences], batch_size, rng=None):
        batch = data.batch(index).to(device)
        out, _ = model(batch.ids, batch.lengths, ngrams=batch.ngrams, linear=batch.linear if with_linear else None)
        logits[index] = out.float().cpu().numpy()
    model.train()
    return logits


def validate(model: SentimentModel, data: Encoded, device: torch.device, with_linear: bool = False) -> tuple[float, float]:
    """Accuracy and mean loss on ``data``."""
    logits = predict_logits(model, data, device, with_linear)
    targets = torch.tensor(data.labels, dtype=torch.float32)
    loss = float(torch.nn.functional.binary_cross_entropy_with_logits(torch.from_numpy(logits), targets))
    return linear_accuracy(logits, data.labels), loss


def add_ngram_branch(model: SentimentModel, train: Encoded, valid: Encoded, device: torch.device,
                     settings: TrainSettings, stop) -> dict | None:
    """Train the n-gram branch, then fit the logit mix on the validation part (None if stopped)."""
    linear, info = train_linear(train.linear, train.labels, valid.linear, valid.labels, model.config.linear_buckets,
                                LinearSettings(seed=settings.seed), log=console.print, stop=stop)
    if linear is None:
        return None
    with torch.no_grad():  # measure (and mix) exactly what is stored: the table as int8
        linear.weight.weight.copy_(dequantize_int8(*quantize_int8(linear.weight.weight)))
    neural = predict_logits(model, valid, device)
    ngram = linear_logits(linear, valid.linear)
    if len(set(valid.labels)) < 2:  # one label: a fitted mix would learn a constant answer
        console.print("[yellow]the validation part holds one label only: the two parts' logits are added, not fitted")
        mix = torch.tensor([1.0, 1.0, 0.0])
    else:
        mix = fit_mix(neural, ngram, valid.labels)
    model.linear.load_state_dict(linear.state_dict())
    model.mix.copy_(mix.to(model.mix.device))
    accuracy, loss = validate(model, valid, device, with_linear=True)
    return {"neural_valid_accuracy": round(linear_accuracy(neural, valid.labels), 4),
            "ngram_valid_accuracy": info["valid_accuracy"], "ngram_best_epoch": info["best_epoch"],
            "ngram_learning_rate": info["learning_rate"],
            "mix": [round(float(v), 4) for v in mix], "valid_accuracy": round(accuracy, 4),
            "valid_loss": round(loss, 4)}


def learning_rate(step: int, total: int, settings: TrainSettings, time_used: float = 0.0) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak, driven by whichever budget runs
    out first: the steps of ``--epochs`` or the time of ``--max-minutes`` (``time_used`` in 0..1)."""
    warmup = min(settings.warmup_steps, total // 10)
    if step < warmup:
        return settings.learning_rate * (step + 1) / warmup
    progress = min(1.0, max((step - warmup) / max(1, total - warmup), time_used))
    return settings.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def make_optimizer(model: SentimentModel, settings: TrainSettings) -> torch.optim.Optimizer:
    """AdamW; the bag-of-n-grams table gets ``bag_lr_scale`` times the learning rate."""
    bag = [] if model.bag is None else list(model.bag.parameters())
    bag_ids = {id(p) for p in bag}
    rest = [p for p in model.parameters() if id(p) not in bag_ids]
    groups = [{"params": rest, "scale": 1.0}]
    if bag:
        groups.append({"params": bag, "scale": settings.bag_lr_scale})
    return torch.optim.AdamW(groups, lr=settings.learning_rate, weight_decay=0.0)


def resume_command(command: str, dataset: str, output: Path) -> str:
    if command:
        return command if " --resume" in command else f"{command} --resume"
    return f"textlab train-sentiment {dataset} <same options> -o {output} --resume"


def train_sentiment(dataset: str, config: SentimentConfig, settings: TrainSettings, output: Path,
                    force: bool = False, resume: bool = False, pretrained_w2v: str | None = None,
                    command: str = "") -> dict:
    """Train and save a sentiment model; returns a summary (validation accuracy, sizes, path)."""
    output = Path(output)
    check_writable_target(output, force, "model")
    seed_everything(settings.seed)
    device = pick_device(settings.device)
    if device.type == "cpu" and settings.threads:
        torch.set_num_threads(settings.threads)
    ckpt = checkpoint_dir_for(output)
    saved = load_checkpoint(ckpt) if resume else None

    texts, labels, stats = read_labelled(dataset, "train")
    if texts and len(set(labels)) < 2:
        raise DataError(f"{dataset}: a sentiment classifier needs both positive and negative reviews "
                        f"(every review here is labelled {labels[0]})")
    lang = config.lang if config.lang != "auto" else guess_lang(texts)
    if settings.valid_data:
        train_idx, valid_idx = append_validation(texts, labels, settings.valid_data)
    else:
        train_idx, valid_idx = split_indices(len(texts), settings.valid_fraction, settings.seed)
    if config.linear_units == "auto":
        config = SentimentConfig(**{**asdict(config), "linear_units": default_units(lang)})
    console.print(f"{len(texts):,} labelled reviews ({sum(labels):,} positive): {len(train_idx):,} train, "
                  f"{len(valid_idx):,} validation; tokenizing ({lang})...")
    token_lists = list(tokenize_texts(texts, lang))
    del texts
    vocab_words = int(config.vocab_size)
    vocab = build_vocab((token_lists[i] for i in train_idx), vocab_words)
    if saved is not None:
        vocab = Vocab.from_tsv(saved["vocab"], where=f"{ckpt} vocabulary")
    w2v_info = None
    embed_dim = config.embed_dim
    if pretrained_w2v:
        dim = word2vec_dim(pretrained_w2v)
        if dim != embed_dim:
            console.print(f"[yellow]--embed-dim {embed_dim} differs from the word2vec dimension {dim}: using {dim}")
            embed_dim = dim
    config = SentimentConfig(**{**asdict(config), "lang": lang, "vocab_size": len(vocab), "embed_dim": embed_dim})
    if saved is not None and saved["config"] != asdict(config):
        raise DataError(f"{ckpt} was written with other settings; rerun with the same options or drop --resume")
    encoder = make_encoder(config, vocab)
    train = encode_all(token_lists, train_idx, labels, encoder)
    valid = encode_all(token_lists, valid_idx, labels, encoder)
    del token_lists

    model = SentimentModel(config).to(device)
    if pretrained_w2v and saved is None:
        w2v_info = init_embedding(model.embedding, vocab, pretrained_w2v)
        console.print(f"embedding initialised from {w2v_info['model']}: {w2v_info['covered']:,} of {len(vocab):,} words")
    optimizer = make_optimizer(model, settings)
    lengths = [len(s) for s in train.sequences]
    steps_per_epoch = math.ceil(len(train) / settings.batch_size)
    total_steps = settings.epochs * steps_per_epoch

    state = {"epoch": 0, "step": 0, "global_step": 0, "best_accuracy": -1.0, "best_loss": 0.0, "best_epoch": 0,
             "history": [], "elapsed": 0.0, "best_state": None, "w2v": w2v_info}
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        set_rng_state(saved["rng"])
        state.update({k: saved[k] for k in ("epoch", "step", "global_step", "best_accuracy", "best_loss", "best_epoch",
                                             "history", "elapsed", "best_state", "w2v")})
        console.print(f"resuming at epoch {state['epoch'] + 1}, batch {state['step']}")

    timer = Timer(None if settings.max_minutes is None else max(0.01, settings.max_minutes - state["elapsed"] / 60))
    budget = None if settings.max_minutes is None else settings.max_minutes * 60
    model.train()
    stopped_early = False

    def save_and_stop():
        state["elapsed"] += timer.elapsed
        save_checkpoint(ckpt, {**state, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                               "rng": rng_state(), "vocab": vocab.to_tsv(), "config": asdict(config)})
        raise TrainingInterrupted(f"training interrupted; checkpoint saved in {ckpt}; resume with: "
                                  f"{resume_command(command, dataset, output)}", stop.signum)

    with graceful_stop() as stop:
        while state["epoch"] < settings.epochs and not stopped_early:
            epoch = state["epoch"]
            batches = length_sorted_batches(lengths, settings.batch_size, np.random.default_rng(settings.seed * 1000 + epoch))
            done = sum(len(b) for b in batches[: state["step"]])
            with ProgressBar(total=len(train), description=f"epoch {epoch + 1}/{settings.epochs}", unit="reviews") as bar:
                bar.update(completed=done)
                for index in batches[state["step"]:]:
                    batch = train.batch(index).to(device)
                    time_used = 0.0 if budget is None else (state["elapsed"] + timer.elapsed) / budget
                    for group in optimizer.param_groups:
                        group["lr"] = learning_rate(state["global_step"], total_steps, settings, time_used) * group["scale"]
                    _, loss = model(batch.ids, batch.lengths, targets=batch.targets, ngrams=batch.ngrams)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
                    optimizer.step()
                    state["step"] += 1
                    state["global_step"] += 1
                    bar.update(advance=len(index), loss=loss.item())
                    if stop:
                        save_and_stop()
                    if timer.expired():
                        stopped_early = True
                        break
                valid_accuracy, valid_loss = validate(model, valid, device)
                bar.update(valid_acc=round(valid_accuracy, 4))
            partial = stopped_early and state["step"] < len(batches)
            state["history"].append({"epoch": epoch + 1, "valid_accuracy": round(valid_accuracy, 4),
                                     "valid_loss": round(valid_loss, 4), "partial": partial})
            note = " (time limit reached mid-epoch)" if partial else ""
            console.print(f"epoch {epoch + 1}: validation accuracy {valid_accuracy:.4f}, loss {valid_loss:.4f}{note}")
            # the best epoch: highest accuracy, ties broken by lower loss
            if (valid_accuracy, -valid_loss) > (state["best_accuracy"], -state["best_loss"]):
                state["best_accuracy"] = valid_accuracy
                state["best_loss"] = valid_loss
                state["best_epoch"] = epoch + 1
                state["best_state"] = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            if not partial:
                state["epoch"] += 1
                state["step"] = 0
        model.load_state_dict(state["best_state"])
        ngram_metrics = None
        if model.linear is not None:
            state["epoch"] = settings.epochs  # the neural part is done: a resume goes straight here
            ngram_metrics = add_ngram_branch(model, train, valid, device, settings, stop)
            if ngram_metrics is None:  # stopped: the model still holds the best neural weights
                save_and_stop()

    minutes = (state["elapsed"] + timer.elapsed) / 60
    data = {"dataset": str(dataset), "split": "train", "reviews": len(train) + len(valid), "train": len(train),
            "valid": len(valid), "valid_data": settings.valid_data, "skipped_rows": stats.skipped,
            "tokens_unk_rate": round(vocab.unk_rate(), 4), "pretrained_w2v": state["w2v"]}
    metrics = {"valid_accuracy": round(state["best_accuracy"], 4), "best_epoch": state["best_epoch"],
               "history": state["history"], "train_minutes": round(minutes, 2), "device": str(device)}
    if ngram_metrics:
        console.print(f"n-gram branch {ngram_metrics['ngram_valid_accuracy']:.4f}, neural "
                      f"{ngram_metrics['neural_valid_accuracy']:.4f}, mixed {ngram_metrics['valid_accuracy']:.4f} "
                      f"(validation accuracy; mix {ngram_metrics['mix']})")
        metrics.update(ngram_metrics)
    curve = render_training_curve({"valid loss": [h["valid_loss"] for h in state["history"]]},
                                  f"sentiment: {Path(str(dataset)).name}",
                                  secondary={"valid accuracy": [h["valid_accuracy"] for h in state["history"]]})
    save_sentiment(output, model, vocab, data, metrics, command=command,
                   extra={"training": asdict(settings)}, force=force,
                   extra_files={CURVE_FILE: curve} if curve else None)
    if ckpt.exists():
        import shutil

        shutil.rmtree(ckpt, ignore_errors=True)
    return {"path": str(output), "valid_accuracy": metrics["valid_accuracy"], "best_epoch": state["best_epoch"],
            "train": len(train), "valid": len(valid), "vocab_size": len(vocab), "minutes": metrics["train_minutes"]}
