"""Training the word LM: the shared loop of :mod:`textlab.lm.trainer` (stateful truncated BPTT
over ``batch_size`` streams of documents, AdamW with warm-up, cosine decay and plateau halving,
the best weights kept, Ctrl-C checkpoints and exact resume) with the word LM's model, its
figures (validation loss and perplexity) and its vocabulary in the checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from textlab.lm.trainer import LMTrainer, TrainResult
from textlab.wordlm.config import TrainConfig, WordLMConfig
from textlab.wordlm.data import WordData
from textlab.wordlm.evaluate import evaluate_ids, metrics_from_loss
from textlab.wordlm.model import WordLM


def checkpoint_record(data: WordData, settings: dict) -> dict:
    """What a checkpoint records about the data: the vocabulary and the split (a resumed run
    must read the same) and the data options it was started with (``settings``)."""
    return {"vocab": list(data.vocab.words), "data": data.summary(), "data_settings": dict(settings)}


class WordTrainer(LMTrainer):
    """The word LM's run (see :class:`textlab.lm.trainer.LMTrainer`)."""

    unit = "tokens"
    kind = "wordlm"
    validation_share = 0.15  # measuring a 30k vocabulary costs more than the char LM's 65 characters

    def __init__(self, data: WordData, model_config: WordLMConfig, config: TrainConfig, device: torch.device,
                 checkpoint_dir: Path | None = None, log: Callable[[str], None] = print, settings: dict | None = None):
        self.settings = dict(settings or {})
        super().__init__(data, model_config, config, device, checkpoint_dir, log)

    def build_model(self, model_config: WordLMConfig) -> WordLM:
        return WordLM(model_config)

    def valid_limit(self) -> int:
        return self.config.eval_tokens

    def data_record(self) -> dict:
        return checkpoint_record(self.data, self.settings)

    def evaluate(self) -> dict:
        return evaluate_ids(self.model, self.valid_ids, self.device)

    def describe(self, metrics: dict) -> str:
        return f"ppl {metrics['perplexity']:.2f}"

    def best_fields(self, best_loss: float) -> dict:
        best = metrics_from_loss(best_loss, len(self.valid_ids) - 1)
        return {"val_loss": best["loss"], "val_perplexity": best["perplexity"]}


def train_wordlm(data: WordData, model_config: WordLMConfig, config: TrainConfig, device: torch.device,
                 checkpoint_dir: Path | None = None, stop=None, log: Callable[[str], None] = print,
                 state: dict | None = None, settings: dict | None = None) -> tuple[TrainResult, WordTrainer]:
    """Train a word LM, or go on from ``state`` (a checkpoint the caller has loaded and checked)."""
    torch.manual_seed(config.seed)
    trainer = WordTrainer(data, model_config, config, device, checkpoint_dir, log, settings)
    if state is not None:
        trainer.restore(state)
        log(f"resuming at step {trainer.step} (epoch {trainer.epoch}, {trainer.elapsed_before / 60:.1f} min done)")
    return trainer.run(stop), trainer
