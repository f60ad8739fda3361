"""Training the char LM: the shared loop of :mod:`textlab.lm.trainer` (stateful truncated BPTT
over ``batch_size`` parallel streams, AdamW with warm-up, cosine decay and plateau halving, the
best weights kept, Ctrl-C checkpoints and exact resume) with the char LM's model, its figures
(validation loss, perplexity and bits per character) and its alphabet in the checkpoint.

Data-parallel training under torchrun lives in :mod:`textlab.charlm.distributed`: it subclasses
:class:`Trainer` and overrides the loop's hooks (the forward module, validation, the random
stream resets, agreement on stopping and the clock, sums over processes, checkpoints).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from textlab.charlm.config import TrainConfig
from textlab.charlm.data import CharData
from textlab.charlm.evaluate import evaluate_ids, metrics_from_loss
from textlab.charlm.model import CharLM, CharLMConfig
from textlab.errors import UsageError
from textlab.lm.setup import read_resume_state
from textlab.lm.trainer import LMTrainer, TrainResult, build_optimizer, lr_at  # noqa: F401  (old import paths)


def checkpoint_record(data: CharData) -> dict:
    """What a checkpoint records about the data (a resumed run must read the same)."""
    return {"alphabet": data.alphabet, "data": data.summary()}


class Trainer(LMTrainer):
    """The char LM's run (see :class:`textlab.lm.trainer.LMTrainer`)."""

    unit = "chars"
    kind = "charlm"

    def build_model(self, model_config: CharLMConfig) -> CharLM:
        return CharLM(model_config)

    def valid_limit(self) -> int:
        return self.config.eval_chars

    def data_record(self) -> dict:
        return checkpoint_record(self.data)

    def evaluate(self) -> dict:
        return evaluate_ids(self.model, self.valid_ids, self.device)

    def validation_fields(self, metrics: dict) -> dict:
        return {**super().validation_fields(metrics), "val_bpc": round(metrics["bpc"], 4)}

    def describe(self, metrics: dict) -> str:
        return f"ppl {metrics['perplexity']:.3f}  bpc {metrics['bpc']:.4f}"

    def best_fields(self, best_loss: float) -> dict:
        best = metrics_from_loss(best_loss, len(self.valid_ids) - 1)
        return {"val_loss": best["loss"], "val_perplexity": best["perplexity"], "val_bpc": best["bpc"]}


def train_charlm(data: CharData, model_config: CharLMConfig, config: TrainConfig, device: torch.device,
                 checkpoint_dir: Path | None = None, resume: bool = False, stop=None,
                 log: Callable[[str], None] = print, state: dict | None = None) -> TrainResult:
    """Train (or resume) a char LM. With ``resume`` the configs come from the checkpoint in
    ``checkpoint_dir`` (or from ``state``, a checkpoint the caller has loaded and checked)."""
    if resume and state is None:
        state, model_config, config = load_resume_state(checkpoint_dir, data)
    if state is not None:
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
    state = read_resume_state(checkpoint_dir, checkpoint_record(data), kind=Trainer.kind)
    model_config = CharLMConfig.from_dict(state["model_config"], where=f"{checkpoint_dir}")
    return state, model_config, TrainConfig(**state["train_config"])
