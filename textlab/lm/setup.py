"""What a run trains with when the user left it open, and what a resumed run may change: the
rules both language model kinds apply to their own config dataclasses."""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from textlab.errors import DataError, UsageError
from textlab.lm.probe import Choice, probe
from textlab.resume import check_epochs_left, reconcile
from textlab.runtime.checkpoints import load_checkpoint
from textlab.runtime.device import check_precision, precision_candidates


def probe_precision(measure: Callable[..., int], shape: Any, candidates: tuple[str, ...], budget: float,
                    train_units: int, unit: str, log: Callable[[str], None],
                    listed: Sequence[Any] = (), steps: int = 8) -> tuple[Choice, dict]:
    """``--precision auto`` on a fixed shape: time ``steps`` steps in each candidate arithmetic
    and keep the faster; returns the choice and what the card records (``listed``: the
    candidate shapes it names)."""
    choice = probe(measure, (shape,), candidates, max(budget, 600.0), train_units, steps=steps)
    log(f"precision: {choice.precision}, measured faster here ("
        + ", ".join(f"{m.precision} {m.per_second:,.0f} {unit}/s" for m in choice.measurements) + ")")
    return choice, {"precision_probe": choice.summary(listed, unit)}


def minutes_after(choice: Choice, max_minutes: float | None) -> float | None:
    """The training budget left once the probe's seconds are spent (they count against it)."""
    return max(0.01, (max_minutes * 60.0 - choice.probe_seconds) / 60.0) if max_minutes else max_minutes


def resume_settings(model_config, train_config, given: dict, checkpoint_dir: Path, device,
                    resumable: Sequence[str], data_settings: dict | None = None, epochs_done: int = 0):
    """Apply the ``resumable`` options the user typed; refuse model/data options that differ
    (``data_settings``: the data options the run was started with, by option name).
    Returns the training config to go on with and the options applied."""
    saved = {**asdict(model_config), **asdict(train_config), **(data_settings or {})}
    applied = reconcile(saved, given, resumable, where=str(checkpoint_dir))
    changes = {k: v for k, v in applied.items() if k in ("epochs", "max_minutes")}
    if "precision" in applied:
        precision = check_precision(applied["precision"], device)
        if precision == "auto":
            precision = train_config.precision if train_config.precision in precision_candidates(device) else "fp32"
        changes["precision"] = precision
    if applied.get("epochs") is not None and applied.get("max_minutes") is None and "max_minutes" not in given:
        changes.setdefault("max_minutes", train_config.max_minutes)
    updated = replace(train_config, **changes)
    if updated.epochs <= 0 and updated.max_minutes <= 0:
        raise UsageError("give --epochs or --max-minutes (or both)")
    if "epochs" in changes:
        check_epochs_left(updated.epochs, epochs_done, str(checkpoint_dir))
    return updated, {k: v for k, v in applied.items()}


def read_resume_state(checkpoint_dir: Path | None, record: dict, kind: str | None = None) -> dict:
    """The checkpoint in ``checkpoint_dir``, refused when it was made from other data than
    ``record`` (what the trainer's ``data_record`` gives for this run's data; the corpus's name
    may differ, e.g. the same file reached by another path)."""
    if checkpoint_dir is None:
        raise DataError("--resume needs a checkpoint directory")
    state = load_checkpoint(checkpoint_dir, kind=kind)
    check_same_data(state, record, checkpoint_dir)
    return state


def check_same_data(state: dict, record: dict, checkpoint_dir: Path | None) -> None:
    """Refuse a checkpoint made from other data than ``record`` describes."""

    def comparable(key: str, value):
        return {k: v for k, v in (value or {}).items() if k != "corpus"} if key == "data" else value

    if any(comparable(key, state.get(key)) != comparable(key, value) for key, value in record.items()):
        raise DataError(f"the checkpoint in {checkpoint_dir} was made with a different corpus or --valid-fraction")
