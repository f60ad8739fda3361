"""What a ``train-sentiment`` run trains (:func:`plan_run`): the options as given, or what a
``--resume`` continues (the shared rule of :mod:`textlab.resume`: ``--epochs``,
``--max-minutes`` and ``--device`` may change, every other option must match); and the job's
time under ``--max-minutes`` across interrupted and resumed runs (:class:`Clock`)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textlab.errors import DataError
from textlab.resume import reconcile
from textlab.runtime.checkpoints import load_checkpoint
from textlab.runtime.output import say
from textlab.sentiment.config import SPECIALS, SentimentConfig, TrainSettings

if TYPE_CHECKING:
    from textlab.sentiment.lm_init import SavedLM

#: Options a resumed run may change (how long, on what): applied, and recorded in the card.
RESUME_CHANGEABLE = ("epochs", "max_minutes", "device")
#: How options are spelled in the one-line refusal when it is not ``--name-with-dashes``.
OPTION_FLAGS = {"dataset": "DATASET", "bidirectional": "--bidirectional/--no-bidirectional"}


def run_options(dataset: str, config: SentimentConfig, settings: TrainSettings, pretrained_w2v: str | None,
                from_lm: str | None = None) -> dict:
    """A run's options by their ``train-sentiment`` names and meanings (what ``--resume``
    compares with what is typed again); ``vocab_size`` counts words, as ``--vocab-size`` does."""
    return {"dataset": str(dataset), "pretrained_w2v": pretrained_w2v, "from_lm": from_lm, **asdict(config),
            **asdict(settings), "vocab_size": config.vocab_size - SPECIALS}


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
    from_lm: str | None
    lm: SavedLM | None  # the LM a fresh --from-lm run starts from (None on resume: the checkpoint holds it)
    options: dict  # by train-sentiment option name (saved in the checkpoint)
    command: str  # the command that started the run
    resumes: list  # {"command", "applied"} per resumed run
    saved: dict | None  # the checkpoint resumed from


def plan_run(dataset: str, config: SentimentConfig, settings: TrainSettings, pretrained_w2v: str | None,
             command: str, resume: bool, given: dict | None, ckpt: Path, from_lm: str | None = None) -> Run:
    options = run_options(dataset, config, settings, pretrained_w2v, from_lm)
    if not resume:
        lm = None
        if from_lm:  # the LM's shape and the --from-lm defaults (textlab.sentiment.initialise)
            from textlab.sentiment.initialise import from_lm_options
            from textlab.sentiment.lm_init import read_lm

            lm = read_lm(from_lm)
            config, settings = from_lm_options(config, settings, lm, pretrained_w2v, given)
        return Run(str(dataset), config, settings, pretrained_w2v, from_lm, lm, options, command, [], None)
    saved = load_checkpoint(ckpt, kind="sentiment")
    if "options" not in saved or "settings" not in saved:
        raise DataError(f"{ckpt} was written by an older textlab; start again without --resume")
    applied = reconcile(saved["options"], options if given is None else given, RESUME_CHANGEABLE,
                        where=f"the checkpoint {ckpt}", flags=OPTION_FLAGS)
    if applied:
        say("resuming with " + ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in applied.items()))
    return Run(saved["options"]["dataset"], SentimentConfig(**saved["config"]),
               TrainSettings(**{**saved["settings"], **applied}), saved["options"]["pretrained_w2v"],
               saved["options"].get("from_lm"), None, {**saved["options"], **applied}, saved["command"],
               [*saved["resumes"], {"command": command, "applied": applied}], saved)
