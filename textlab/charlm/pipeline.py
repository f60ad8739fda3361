"""``train-charlm`` as a library call: corpus → set-up (defaults, measured where the user left
them open) → training (resumable) → saved model with its card.

Defaults have one source, :mod:`textlab.charlm.config`: the CPU and CUDA shapes and
:class:`~textlab.charlm.config.TrainConfig`.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import torch

from textlab.charlm.data import CharData, load_char_data
from textlab.charlm.model import CharLM, CharLMConfig
from textlab.charlm.config import CPU_SHAPES, CUDA_SHAPE, RESUMABLE, SHAPE_OPTIONS, Shape, TrainConfig
from textlab.charlm.probe import MIN_PROBE_BUDGET, card_summary, probe
from textlab.charlm.train import TrainResult, load_resume_state, train_charlm
from textlab.errors import TrainingInterrupted
from textlab.lm import setup as lm_setup
from textlab.lm.probe import step_timer
from textlab.lm.streams import stream_length
from textlab.lm.setup import probe_precision
from textlab.runtime.checkpoints import checkpoint_dir_for
from textlab.runtime.device import check_precision, precision_candidates
from textlab.runtime.output import say
from textlab.runtime.signals import graceful_stop

def default_shape(device_type: str) -> Shape:
    """The shape used when nothing is probed: CUDA's, or the narrowest CPU candidate."""
    return CUDA_SHAPE if device_type == "cuda" else CPU_SHAPES[0]


def make_configs(vocab_size: int, device_type: str, cell: str = "lstm", epochs: int | None = None,
                 max_minutes: float | None = None, seed: int = 1, precision: str = "fp32", shape: Shape | None = None,
                 **overrides) -> tuple[CharLMConfig, TrainConfig]:
    """The model and training configs for a run: ``shape`` (default: the device's), then what
    the user gave (``overrides`` with value None are ignored). Without epochs or a budget: 10
    epochs. ``precision`` must already be resolved (not "auto")."""
    chosen = (shape or default_shape(device_type)).settings()
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


@dataclass
class Setup:
    """What a run will train with, and how it was decided (recorded in the card)."""

    model: CharLMConfig
    train: TrainConfig
    decided: dict = field(default_factory=dict)


def time_steps(data: CharData, vocab_size: int, cell: str, device: torch.device) -> Callable[..., int]:
    """``run(shape, precision, n, start)``: a fresh model takes one warm-up step on the corpus,
    ``start()`` is called, then ``n`` real steps; returns the characters of those ``n`` (the
    probe's measuring stick; synchronised on CUDA)."""

    def build(shape: Shape, precision: str) -> tuple[CharLM, TrainConfig]:
        model_config, train_config = make_configs(vocab_size, device.type, cell, epochs=1, shape=shape,
                                                  precision=precision)
        return CharLM(model_config), train_config

    return step_timer(build, data.train, device)


def plan_setup(data: CharData, device: torch.device, cell: str, epochs: int | None, max_minutes: float | None,
               seed: int, precision: str, overrides: dict, log: Callable[[str], None] = say,
               measure: Callable | None = None) -> Setup:
    """Defaults, then the user's options; what is left open is measured:

    - on a CPU with ``--max-minutes`` (at least :data:`MIN_PROBE_BUDGET` seconds) and no shape
      option given: the shape and precision probe of :mod:`textlab.charlm.probe`;
    - otherwise, with ``--precision auto``: the candidates of
      :func:`textlab.runtime.device.precision_candidates` timed on the run's own shape.
    """
    precision = check_precision(precision, device)
    fixed = {k: v for k, v in overrides.items() if v is not None}
    if "batch_size" in fixed:  # before anything is built for it (a probe of 100,000 streams ran out of memory)
        stream_length(len(data.train), fixed["batch_size"], "characters")
    vocab = len(data.alphabet)
    measure = measure or time_steps(data, vocab, cell, device)
    candidates = precision_candidates(device) if precision == "auto" else (precision,)
    budget = (max_minutes or 0.0) * 60.0
    decided: dict = {}
    shape = default_shape(device.type)
    if device.type == "cpu" and budget >= MIN_PROBE_BUDGET and not (set(fixed) & set(SHAPE_OPTIONS)):
        choice = probe(measure, CPU_SHAPES, candidates, budget, len(data.train), max_epochs=epochs)
        shape, precision = choice.shape, choice.precision
        decided = {"probe": card_summary(choice)}
        log(f"set-up probe ({choice.probe_seconds:.1f} s): {shape.name} {precision}, "
            f"{choice.rate():,.0f} chars/s, ~{choice.expected_epochs:.1f} epochs expected; "
            f"{choice.reason}")
        max_minutes = lm_setup.minutes_after(choice, max_minutes)  # the probe's time counts
    elif len(candidates) > 1:
        fixed_shape = replace(shape, **{k: v for k, v in fixed.items() if k in shape.settings()})
        choice, decided = probe_precision(measure, fixed_shape, candidates, budget, len(data.train), "chars", log,
                                          listed=CPU_SHAPES)
        precision, max_minutes = choice.precision, lm_setup.minutes_after(choice, max_minutes)
    else:
        precision = candidates[0]
    model_config, train_config = make_configs(vocab, device.type, cell, epochs, max_minutes, seed, precision,
                                              shape=shape, **fixed)
    return Setup(model_config, train_config, decided)


def train_charlm_job(corpus: str, output: Path, *, cell: str = "lstm", epochs: int | None = None,
                     max_minutes: float | None = None, precision: str = "auto", valid_fraction: float = 0.1,
                     device: torch.device, seed: int = 1, resume: bool = False, force: bool = False,
                     overrides: dict | None = None, given: dict | None = None, stop=None,
                     resume_hint: str = "", log: Callable[[str], None] = say) -> dict:
    """Train (or resume) and save a char LM at ``output``; returns the saved metrics.

    With ``resume``, ``given`` (the options typed on this command line) is checked against the
    checkpoint: :data:`RESUMABLE` options apply, the others must match."""
    from textlab.reservation import reserve_output

    with reserve_output(output, force or resume, "model", resume=resume):  # before any work, for the whole job
        return _train_reserved(corpus, output, cell=cell, epochs=epochs, max_minutes=max_minutes, precision=precision,
                               valid_fraction=valid_fraction, device=device, seed=seed, resume=resume, force=force,
                               overrides=overrides, given=given, stop=stop, resume_hint=resume_hint, log=log)


def _train_reserved(corpus: str, output: Path, *, cell: str, epochs: int | None, max_minutes: float | None,
                    precision: str, valid_fraction: float, device: torch.device, seed: int, resume: bool, force: bool,
                    overrides: dict | None, given: dict | None, stop, resume_hint: str,
                    log: Callable[[str], None]) -> dict:
    """:func:`train_charlm_job`, its output reserved."""
    from textlab.charlm.saving import save_charlm
    from textlab.runtime.seeding import seed_everything

    checkpoint_dir = checkpoint_dir_for(output)
    seed_everything(seed)
    log(f"reading {corpus} ...")
    data = load_char_data(corpus, valid_fraction)
    info = data.summary()
    log(f"{info['train_chars']:,} training and {info['valid_chars']:,} validation characters, "
        f"alphabet of {len(data.alphabet)}; device {device}")
    state = None
    if resume:
        state, model_config, train_config = load_resume_state(checkpoint_dir, data)
        train_config, applied = resume_settings(model_config, train_config, given or {}, checkpoint_dir, device,
                                                int(state.get("epoch", 0)))
        setup = Setup(model_config, train_config, {"resumed_with": applied})
        if applied:
            log("applied on resume: " + ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in applied.items()))
    else:
        setup = plan_setup(data, device, cell, epochs, max_minutes, seed, precision, overrides or {}, log)
    try:
        result = train_charlm(data, setup.model, setup.train, device, checkpoint_dir, stop=stop, log=log, state=state)
    except TrainingInterrupted as exc:
        raise TrainingInterrupted(f"{exc}; resume with: {resume_hint}" if resume_hint else str(exc), exc.signum) from None
    save(result, output, data, info, setup, device, force or resume, save_charlm)
    if checkpoint_dir.exists():
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
    return result.metrics


def resume_settings(model_config: CharLMConfig, train_config: TrainConfig, given: dict, checkpoint_dir: Path,
                    device: torch.device, epochs_done: int = 0) -> tuple[TrainConfig, dict]:
    """Apply the resumable options the user typed; refuse model/data options that differ."""
    return lm_setup.resume_settings(model_config, train_config, given, checkpoint_dir, device, RESUMABLE,
                                    epochs_done=epochs_done)


def save(result: TrainResult, output: Path, data: CharData, info: dict, setup: Setup, device: torch.device,
         force: bool, save_charlm) -> None:
    settings = {"train": asdict(result.config), "device": str(device), "history": result.history,
                "curve": result.curve, "setup": setup.decided}
    with graceful_stop("saving the model"):  # a signal now would lose the finished run: the save goes on
        save_charlm(output, result.model, data.alphabet, info, result.metrics, settings, force=force)
