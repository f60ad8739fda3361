"""The training state (model, optimizer, progress of both phases): built fresh and initialised
(:mod:`textlab.sentiment.initialise`), or restored from a checkpoint; and saved to one when a
signal stops the run."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from textlab.errors import TrainingInterrupted
from textlab.runtime.checkpoints import save_checkpoint
from textlab.runtime.output import say
from textlab.runtime.seeding import rng_state, set_rng_state
from textlab.sentiment.initialise import initialise
from textlab.sentiment.model import SentimentModel
from textlab.sentiment.neural_phase import NeuralProgress, make_optimizer
from textlab.sentiment.prepare import Prepared
from textlab.sentiment.run_plan import Clock, Run, resume_command


@dataclass
class TrainingState:
    """Everything a checkpoint holds besides the run's options."""

    model: SentimentModel
    optimizer: torch.optim.Optimizer
    progress: NeuralProgress
    ngram: dict | None  # the n-gram phase's result, once it has run
    init: dict  # what the fresh model started from: {"pretrained_w2v": ..., "from_lm": ...} (None: random)


def start_or_restore(prepared: Prepared, run: Run, device: torch.device) -> TrainingState:
    """A fresh model (initialised by :func:`textlab.sentiment.initialise.initialise` on the CPU
    before it moves to the device), or the checkpoint's model, optimizer, RNG states and progress."""
    model = SentimentModel(prepared.config)
    init = initialise(model, prepared.vocab, run.pretrained_w2v, run.lm) if run.saved is None else {}
    model.to(device)
    state = TrainingState(model, make_optimizer(model, run.settings), NeuralProgress(), None, init)
    saved = run.saved
    if saved is not None:
        model.load_state_dict(saved["model"])
        state.optimizer.load_state_dict(saved["optimizer"])
        set_rng_state(saved["rng"])
        if device.type == "cuda" and saved.get("cuda_rng"):  # dropout on the GPU draws from these
            torch.cuda.set_rng_state_all(list(saved["cuda_rng"]))
        state.progress, state.ngram = NeuralProgress.from_checkpoint(saved["neural"]), saved["ngram"]
        state.init = saved.get("init") or {"pretrained_w2v": saved.get("w2v"), "from_lm": None}
        if state.ngram is not None:
            state.ngram["valid_logits"] = np.asarray(state.ngram["valid_logits"], dtype=np.float32)
        say(f"resuming at epoch {state.progress.epoch + 1}, batch {state.progress.step}"
            if state.ngram is not None or model.linear is None else "resuming: the n-gram branch starts again")
    return state


def checkpoint_and_stop(ckpt: Path, run: Run, prepared: Prepared, state: TrainingState, clock: Clock,
                        device: torch.device, output: Path, signum: int | None) -> None:
    """Save everything ``--resume`` needs, then raise :class:`TrainingInterrupted`."""
    save_checkpoint(ckpt, {
        "options": run.options, "config": asdict(prepared.config), "settings": asdict(run.settings),
        "command": run.command, "resumes": run.resumes, "vocab": prepared.vocab.to_tsv(), "init": state.init,
        "elapsed": clock.used(), "ngram": state.ngram, "neural": asdict(state.progress),
        "model": state.model.state_dict(), "optimizer": state.optimizer.state_dict(), "rng": rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if device.type == "cuda" else None}, kind="sentiment")
    latest = run.resumes[-1]["command"] if run.resumes else run.command
    raise TrainingInterrupted(f"training interrupted; checkpoint saved in {ckpt}; resume with: "
                              f"{resume_command(latest, run.dataset, output)}", signum)
