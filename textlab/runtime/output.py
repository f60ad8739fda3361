"""The one output helper: every line for the user goes to stderr through :func:`say`, with
rich markup, emoji codes (``:smile:``) and highlighting off, so that data in it (paths, words,
model names) is printed exactly as it is; stdout stays clean for data."""

from __future__ import annotations

from rich.console import Console

#: Rich console for human-facing messages (lines through :func:`say`; progress bars, tables).
#: No emoji codes anywhere: ``:name:`` in a path or a word stays as it is.
console = Console(stderr=True, highlight=False, emoji=False)


def say(line: str, style: str | None = None) -> None:
    """One plain line for the user on stderr (never wrapped, no markup; ``style`` e.g. "yellow"
    for a warning): the output helper for every message that is not data."""
    console.print(line, markup=False, emoji=False, highlight=False, soft_wrap=True, style=style)
