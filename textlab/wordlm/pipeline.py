"""``train-lm`` as a library call: corpus -> words and vocabulary -> set-up (the defaults of
:mod:`textlab.wordlm.config`, the user's options, ``--precision auto`` measured) -> training
(resumable) -> saved model with its card, vocabulary and curve."""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable

import torch

from textlab.errors import TrainingInterrupted
from textlab.lm import setup as lm_setup
from textlab.lm.probe import step_timer
from textlab.lm.streams import stream_length
from textlab.runtime.checkpoints import checkpoint_dir_for, load_checkpoint
from textlab.runtime.device import check_precision, precision_candidates
from textlab.runtime.output import say
from textlab.runtime.signals import graceful_stop
from textlab.wordlm.config import DEFAULT_EPOCHS, RESUMABLE, Shape, TrainConfig, WordLMConfig
from textlab.wordlm.data import WordData, load_word_data
from textlab.wordlm.evaluate import unigram_perplexity
from textlab.wordlm.model import WordLM

PROBE_STEPS = 4  # steps timed per precision (a step is 4,480 tokens: ~0.5 s on one Zen 4 thread)
MODEL_OPTIONS = ("embed_dim", "hidden", "layers", "embed_dropout", "dropout")
TRAIN_OPTIONS = ("seq_len", "batch_size", "lr")


@dataclass
class Setup:
    """What a run trains with, and how it was decided (recorded in the card)."""

    model: WordLMConfig
    train: TrainConfig
    decided: dict = field(default_factory=dict)


def make_configs(vocab_size: int, lang: str, epochs: int | None = None, max_minutes: float | None = None,
                 seed: int = 1, precision: str = "fp32", **overrides) -> tuple[WordLMConfig, TrainConfig]:
    """The defaults, then what the user gave (``overrides`` with value None are ignored).
    Without epochs or a budget: :data:`DEFAULT_EPOCHS`. ``precision`` must be resolved."""
    unknown = set(overrides) - set(MODEL_OPTIONS) - set(TRAIN_OPTIONS)
    if unknown:
        raise TypeError(f"unknown settings: {sorted(unknown)}")
    given = {k: v for k, v in overrides.items() if v is not None}
    model_config = WordLMConfig(vocab_size=vocab_size, lang=lang, **{k: v for k, v in given.items() if k in MODEL_OPTIONS})
    model_config.check()
    train_config = TrainConfig(epochs=epochs or (0 if max_minutes else DEFAULT_EPOCHS), max_minutes=max_minutes or 0.0,
                               seed=seed, precision=precision, **{k: v for k, v in given.items() if k in TRAIN_OPTIONS})
    return model_config, train_config


def plan_setup(data: WordData, device: torch.device, epochs: int | None, max_minutes: float | None, seed: int,
               precision: str, overrides: dict, log: Callable[[str], None] = say) -> Setup:
    """Defaults and the user's options; ``--precision auto`` times each candidate arithmetic on
    the run's shape and corpus (its seconds count against ``--max-minutes``)."""
    precision = check_precision(precision, device)
    candidates = precision_candidates(device) if precision == "auto" else (precision,)
    decided: dict = {}
    model_config, train_config = make_configs(len(data.vocab), data.lang, 1, None, seed, "fp32", **overrides)
    stream_length(len(data.train), train_config.batch_size, "tokens")  # before anything is built for it
    if len(candidates) > 1:
        shape = Shape("run", train_config.batch_size, train_config.seq_len)

        def build(_shape: Shape, arithmetic: str) -> tuple[WordLM, TrainConfig]:
            return WordLM(model_config), train_config

        budget = (max_minutes or 0.0) * 60.0
        # one thread: the arithmetic's own rate (two threads collapse under a neighbour's load, and
        # the trainer's thread tuner picks the count anyway)
        timer = step_timer(build, data.train, device, threads=1 if device.type == "cpu" else 0)
        choice, decided = lm_setup.probe_precision(timer, shape, candidates, budget,
                                                   len(data.train), "tokens", log, listed=(shape,),
                                                   steps=PROBE_STEPS)
        precision, max_minutes = choice.precision, lm_setup.minutes_after(choice, max_minutes)
    else:
        precision = candidates[0]
    model_config, train_config = make_configs(len(data.vocab), data.lang, epochs, max_minutes, seed, precision,
                                              **overrides)
    return Setup(model_config, train_config, decided)


def train_lm_job(corpus: str, output: Path, *, data_settings: dict, epochs: int | None = None,
                 max_minutes: float | None = None, precision: str = "auto", device: torch.device, seed: int = 1,
                 resume: bool = False, force: bool = False, overrides: dict | None = None, given: dict | None = None,
                 stop=None, resume_hint: str = "", log: Callable[[str], None] = say) -> dict:
    """Train (or resume) and save a word LM at ``output``; returns the saved metrics.

    ``data_settings``: ``lang``, ``vocab_size`` (words), ``valid_fraction``, ``valid_data``. With
    ``resume`` the checkpoint's data settings are read again; ``given`` (the options typed on
    this command line) is checked against the checkpoint: :data:`RESUMABLE` options apply, the
    others must match."""
    from textlab.reservation import reserve_output

    with reserve_output(output, force or resume, "model", resume=resume):  # before any work, for the whole job
        return _train_reserved(corpus, output, data_settings=data_settings, epochs=epochs, max_minutes=max_minutes,
                               precision=precision, device=device, seed=seed, resume=resume, force=force,
                               overrides=overrides, given=given, stop=stop, resume_hint=resume_hint, log=log)


def _train_reserved(corpus: str, output: Path, *, data_settings: dict, epochs: int | None, max_minutes: float | None,
                    precision: str, device: torch.device, seed: int, resume: bool, force: bool,
                    overrides: dict | None, given: dict | None, stop, resume_hint: str,
                    log: Callable[[str], None]) -> dict:
    """:func:`train_lm_job`, its output reserved."""
    from textlab.runtime.seeding import seed_everything
    from textlab.wordlm.saving import save_wordlm
    from textlab.wordlm.train import WordTrainer

    checkpoint_dir = checkpoint_dir_for(output)
    seed_everything(seed)
    state = load_checkpoint(checkpoint_dir, kind=WordTrainer.kind) if resume else None
    if state is not None:
        data_settings = dict(state["data_settings"])
    log(f"reading {corpus} ...")
    data = load_word_data(corpus, **data_settings)
    info = data.summary()
    log(f"{info['train_tokens']:,} training and {info['valid_tokens']:,} validation tokens "
        f"({info['train_documents']:,} + {info['valid_documents']:,} documents, {info['lang']}), "
        f"vocabulary of {len(data.vocab):,} ({info['train_unk_rate']:.2%} of the training words outside it); "
        f"device {device}")
    if state is not None:
        from textlab.wordlm.train import checkpoint_record

        lm_setup.check_same_data(state, checkpoint_record(data, data_settings), checkpoint_dir)
        model_config = WordLMConfig.from_dict(state["model_config"], where=str(checkpoint_dir))
        train_config = TrainConfig(**{f.name: state["train_config"][f.name] for f in fields(TrainConfig)})
        train_config, applied = lm_setup.resume_settings(model_config, train_config, given or {}, checkpoint_dir,
                                                         device, RESUMABLE, data_settings, int(state.get("epoch", 0)))
        setup = Setup(model_config, train_config, {"resumed_with": applied})
        if applied:
            log("applied on resume: " + ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in applied.items()))
    else:
        setup = plan_setup(data, device, epochs, max_minutes, seed, precision, overrides or {}, log)
    from textlab.wordlm.train import train_wordlm

    try:
        result, trainer = train_wordlm(data, setup.model, setup.train, device, checkpoint_dir, stop, log, state,
                                       data_settings)
    except TrainingInterrupted as exc:
        raise TrainingInterrupted(f"{exc}; resume with: {resume_hint}" if resume_hint else str(exc), exc.signum) from None
    metrics = {**result.metrics, "val_unigram_perplexity": unigram_perplexity(data.vocab, trainer.valid_ids),
               "val_tokens": int(len(trainer.valid_ids) - 1)}
    settings = {"train": asdict(result.config), "data": data_settings, "device": str(device),
                "history": result.history, "curve": result.curve, "setup": setup.decided}
    with graceful_stop("saving the model"):  # a signal now would lose the finished run: the save goes on
        save_wordlm(output, result.model, data.vocab, info, metrics, settings, force=force or resume)
        if checkpoint_dir.exists():
            shutil.rmtree(checkpoint_dir, ignore_errors=True)
    return metrics
