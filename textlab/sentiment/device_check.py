"""The sentiment part of the project's device check (``scripts/gpu_check.py``): training seconds
per epoch on a small labelled set and inference reviews/s, on any device.

Nothing outside the repository is needed: the labelled reviews are made up from the shipped
English model's vocabulary (words drawn by their IMDb frequencies, IMDb-like lengths, the
label carried by 3-8 sentiment words and 10% label noise), so the accuracy says only that
training works, while the speeds are those of real-sized reviews.

    from textlab.sentiment import gpu_check
    print(gpu_check("cuda"))          # about a minute on one GPU
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

POSITIVE = "wonderful excellent superb brilliant moving great loved beautiful perfect touching".split()
NEGATIVE = "awful boring terrible dull waste worst hated stupid poor painful".split()


def synthetic_reviews(n: int, seed: int = 0, mean_words: int = 230) -> tuple[list[str], list[int]]:
    """``n`` labelled English reviews of IMDb-like length (see the module docstring)."""
    from textlab.sentiment.pretrained import shipped_models
    from textlab.text import Vocab

    vocab = Vocab.load(shipped_models()["en"] / "vocab.tsv")
    words = np.array(vocab.words[2:])
    counts = np.asarray(vocab.counts[2:], dtype=np.float64)
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(np.log(mean_words * 0.8), 0.6, n).astype(int), 5, 2000)
    labels = rng.integers(0, 2, n)
    cue = rng.integers(3, 9, n)
    flat = rng.choice(len(words), int(lengths.sum()), p=counts / counts.sum())
    texts, start = [], 0
    for length, label, cues in zip(lengths, labels, cue):
        review = list(words[flat[start: start + length]])
        start += length
        shown = label if rng.random() > 0.1 else 1 - label
        for _ in range(cues):
            review.insert(int(rng.integers(0, len(review) + 1)), str(rng.choice(POSITIVE if shown else NEGATIVE)))
        texts.append(" ".join(review))
    return texts, [int(x) for x in labels]


def _write_csv(path: Path, texts: list[str], labels: list[int]) -> Path:
    import csv

    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["label", "review"])
        writer.writerows(zip(labels, texts))
    return path


def gpu_check(device: str = "cuda", train_reviews: int = 20_000, epochs: int = 2, inference_reviews: int = 50_000,
              config_overrides: dict | None = None, workers: int | None = None, seed: int = 1) -> dict:
    """Train a default-sized model (``train-sentiment``'s defaults) on ``train_reviews`` made-up
    reviews for ``epochs`` epochs on ``device``, then score ``inference_reviews`` with the
    shipped English model there. Returns one JSON-ready dict:

    - ``train_seconds_per_epoch``: the neural part's training steps, per epoch (mean);
      ``ngram_branch_seconds``: the n-gram branch (3 rates x ``epochs`` epochs);
      ``train_total_seconds``: the whole ``train_sentiment`` call (reading, tokenizing, saving);
      ``valid_accuracy`` and ``valid_ece`` of the trained model;
    - ``inference_reviews_per_second``: the whole pipeline, text in, probabilities out
      (tokenizing and encoding in worker processes, scoring on ``device``), as
      ``textlab sentiment`` and ``eval-sentiment`` run it; ``scoring_reviews_per_second``: the
      model alone on encoded reviews (what the device does); ``goal_reviews_per_second``: 20,000.
    """
    import torch

    from textlab.runtime.device import pick_device
    from textlab.sentiment.config import SentimentConfig, TrainSettings
    from textlab.sentiment.predict import Predictor, Router, inference_workers, parallel_probabilities
    from textlab.sentiment.pretrained import shipped_models
    from textlab.sentiment.saved import load_sentiment
    from textlab.sentiment.train import train_sentiment

    target = pick_device(device)
    result: dict = {"device": str(target), "device_name": torch.cuda.get_device_name(target)
                    if target.type == "cuda" else "cpu", "torch": torch.__version__}
    texts, labels = synthetic_reviews(train_reviews + inference_reviews, seed)
    with tempfile.TemporaryDirectory(prefix="textlab-sentiment-check-") as tmp:
        data = _write_csv(Path(tmp) / "reviews.csv", texts[:train_reviews], labels[:train_reviews])
        config = SentimentConfig(lang="en", **(config_overrides or {}))
        settings = TrainSettings(epochs=epochs, device=str(target), seed=seed)
        started = time.perf_counter()
        summary = train_sentiment(str(data), config, settings, Path(tmp) / "model")
        total = time.perf_counter() - started
        from textlab.store.cards import read_card

        metrics = read_card(Path(tmp) / "model").metrics
    history = [h for h in metrics["history"] if not h["partial"]] or metrics["history"]
    result.update({"train_reviews": train_reviews, "epochs": epochs, "config": asdict(config),
                   "train_seconds_per_epoch": round(float(np.mean([h["train_seconds"] for h in history])), 2),
                   "valid_seconds_per_epoch": round(float(np.mean([h["valid_seconds"] for h in history])), 2),
                   "ngram_branch_seconds": metrics["seconds"].get("ngram_branch"),
                   "train_total_seconds": round(total, 2), "train_stage_seconds": metrics["seconds"],
                   "valid_accuracy": summary["valid_accuracy"], "valid_ece": summary["valid_ece"]})

    lines = texts[train_reviews:]
    workers = inference_workers(target.type == "cpu") if workers is None else workers
    router = Router({"en": Predictor(load_sentiment(shipped_models()["en"]), device=target)}, "en")
    batches = [lines[i: i + 256] for i in range(0, len(lines), 256)]
    router.probabilities(lines[:512])  # warm up: model on the device, kernels chosen
    started = time.perf_counter()
    count = sum(len(batch) for batch, _ in parallel_probabilities(router, iter(batches), workers=workers))
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    encoded = router.encode(lines[:20_000])
    encoding = time.perf_counter() - started
    started = time.perf_counter()
    router.score(encoded)
    scoring = time.perf_counter() - started
    result.update({"inference_reviews": count, "inference_reviews_per_second": round(count / seconds, 1),
                   "scoring_reviews_per_second": round(len(encoded) / scoring, 1),
                   "encoding_reviews_per_second_one_process": round(len(encoded) / encoding, 1),
                   "goal_reviews_per_second": 20_000, "inference_model": "shipped:en",
                   "inference_workers": workers})
    return result
