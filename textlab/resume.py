"""The rule for options given again with ``--resume``, shared by every trainer.

A resumed run continues the model and data of the checkpoint, so options split in two kinds:

- options that only say *how long* or *how fast* to go on (epochs, the time budget, the end of
  the learning-rate schedule, worker counts, ...) may change: they are applied, and the model
  card records the values that really ran;
- every other option defines the model or the data it learns from: giving it again with a
  different value is refused in one line that names each such option and its saved value
  (giving it with the saved value is fine).

Only options the user typed count (see :func:`textlab.cli.options.given_options`); defaults
never override a checkpoint.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from textlab.errors import UsageError


def flag(name: str) -> str:
    """``max_minutes`` -> ``--max-minutes``."""
    return "--" + name.replace("_", "-")


def _same(saved: Any, given: Any) -> bool:
    if isinstance(saved, float) or isinstance(given, float):
        try:
            return abs(float(saved) - float(given)) <= 1e-12 * max(1.0, abs(float(saved)))
        except (TypeError, ValueError):
            return False
    return saved == given


def reconcile(saved: Mapping[str, Any], given: Mapping[str, Any], changeable: Iterable[str],
              where: str = "the checkpoint", flags: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The options to apply to a resumed run.

    ``saved``: the settings the checkpoint was made with (option name -> value); ``given``: the
    options typed on this command line; ``changeable``: the names that may change on resume.
    Returns the changeable options whose value differs from the saved one. Raises
    :class:`UsageError` naming every other given option whose value differs (``flags`` maps a
    name to its spelling on the command line when it is not ``--name-with-dashes``)."""
    changeable = set(changeable)
    flags = dict(flags or {})
    applied: dict[str, Any] = {}
    refused: list[str] = []
    for name, value in given.items():
        if value is None:
            continue
        if name in changeable:
            if name not in saved or not _same(saved[name], value):
                applied[name] = value
        elif name in saved and not _same(saved[name], value):
            refused.append(f"{flags.get(name, flag(name))} (the run was started with {saved[name]!r})")
    if refused:
        raise UsageError(f"--resume continues the model and data of {where}; these options cannot change: "
                         + "; ".join(refused) + ". Drop them, or start a new run without --resume")
    return applied


def check_epochs_left(epochs: int, done: int | float, where: str) -> None:
    """A resumed run given ``--epochs`` must have some left after the ``done`` it trained (whole
    epochs, or a fraction where the trainer counts words): else nothing would train, and the
    card would record the smaller count and a rate for no work."""
    if 0 < epochs <= done:
        trained = f"{done:.2f}" if isinstance(done, float) else f"{done}"
        raise UsageError(f"the run in {where} has trained {trained} epochs already: --epochs {epochs} "
                         "leaves nothing to train (give more, or leave --epochs out)")
