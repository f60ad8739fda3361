"""What a run trains with when the user left it open, and what a resumed run may change: the
rules both language model kinds apply to their own config dataclasses."""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from textlab.errors import UsageError
from textlab.lm.probe import Choice, probe
from textlab.resume import reconcile
from textlab.runtime.device import check_precision, precision_candidates


def probe_precision(measure: Callable[..., int], shape: Any, candidates: tuple[str, ...], budget: float,
                    train_units: int, unit: str, log: Callable[[str], None],
                    listed: Sequence[Any] = ()) -> tuple[Choice, dict]:
    """``--precision auto`` on a fixed shape: time each candidate arithmetic on it (the probe's
    share of the budget, at least of 10 minutes) and keep the faster; returns the choice and
    what the card records (``listed``: the candidate shapes it names)."""
    choice = probe(measure, (shape,), candidates, max(budget, 600.0), train_units)
    log(f"precision: {choice.precision}, measured faster here ("
        + ", ".join(f"{m.precision} {m.per_second:,.0f} {unit}/s" for m in choice.measurements) + ")")
    return choice, {"precision_probe": choice.summary(listed, unit)}


def resume_settings(model_config, train_config, given: dict, checkpoint_dir: Path, device,
                    resumable: Sequence[str], data_settings: dict | None = None):
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
    return updated, {k: v for k, v in applied.items()}
