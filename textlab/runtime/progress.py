"""The progress bar: one line on stderr, cut to the terminal's width, with a real ETA."""

from __future__ import annotations

import os
from typing import Any

from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn
from rich.text import Text

from textlab.runtime.output import console


def progress_enabled() -> bool:
    """Bars are drawn unless ``TEXTLAB_NO_PROGRESS`` is set, and only by rank 0 of a torchrun job."""
    if os.environ.get("RANK", "0").strip() not in ("", "0"):
        return False
    return os.environ.get("TEXTLAB_NO_PROGRESS", "") in ("", "0")


def human_rate(value: float | None, unit: str) -> str:
    """``412.3k words/s``; bytes as ``12.4 MB/s``."""
    if value is None:
        return f"? {unit}/s"
    if unit == "B":
        for factor, suffix in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
            if value >= factor:
                return f"{value / factor:.1f} {suffix}/s"
        return f"{value:.0f} B/s"
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= factor:
            return f"{value / factor:.1f}{suffix} {unit}/s"
    return f"{value:.1f} {unit}/s"


def _clock(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "-:--:--"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class _StatusColumn(ProgressColumn):
    """Everything after the bar as one line cut to the terminal's width (never wrapped):
    ``42%  12.3k chars/s  eta 0:03:12  loss=1.43``. The rate is the one the caller measured
    (``rate=``, e.g. training time only, as its summary reports it) or rich's recent average;
    the ETA comes from what is left and that rate, or from the caller (``eta=``, e.g. a time
    budget); ``took`` once finished; elapsed time when no total is known."""

    def __init__(self, bar: "ProgressBar"):
        super().__init__()
        self.bar = bar

    def render(self, task) -> Text:
        parts = []
        if task.total:
            parts.append(f"{100 * task.completed / task.total:3.0f}%")
        else:
            parts.append(f"{task.completed:,.0f}" + (" B" if self.bar.unit == "B" else f" {self.bar.unit}"))
        rate = self.bar.rate if self.bar.rate is not None else (task.finished_speed or task.speed)
        parts.append(human_rate(rate, self.bar.unit))
        if task.finished:
            parts.append(f"took {_clock(task.finished_time or task.elapsed)}")
        elif task.total:
            eta = self.bar.eta
            if eta is None:
                eta = (task.total - task.completed) / rate if rate else None
            parts.append(f"eta {_clock(eta)}")
        else:
            parts.append(_clock(task.elapsed))
        line = Text("  ".join(parts))
        if self.bar.phase:
            line.append("  " + self.bar.phase, style="yellow")
        if self.bar.fields:
            line.append("  " + " ".join(f"{k}={v}" for k, v in self.bar.fields.items()))
        room = max(10, console.width - len(task.description) - self.bar.width - 3)
        line.truncate(room, overflow="ellipsis")
        return line


class ProgressBar:
    """One progress bar that tells the truth at 80 columns: a known total (work, or a time
    budget), a real ETA, the caller's rate when it measures one, a phase (``validating``) and a
    few short fields such as the current loss, all on one line cut to the terminal's width.

    Use as a context manager::

        with ProgressBar(total=n_words, description="train", unit="words") as bar:
            bar.update(advance=1024, loss=2.31, rate=measured_words_per_s)
            bar.update(phase="validating")     # shown until an update with phase=""
    """

    def __init__(self, total: float | None, description: str, unit: str = "it", width: int = 16):
        self.total, self.unit, self.width = total, unit, width
        self.fields: dict[str, str] = {}
        self.rate: float | None = None
        self.eta: float | None = None
        self.phase = ""
        description_column = TextColumn("{task.description}", style="bold", markup=False)  # data: no markup
        self._progress = Progress(description_column, BarColumn(bar_width=width), _StatusColumn(self),
                                  console=console, disable=not progress_enabled(), transient=False,
                                  refresh_per_second=4, expand=False)
        self._task = self._progress.add_task(description, total=total)

    def update(self, advance: float = 0, completed: float | None = None, *, rate: float | None = None,
               eta: float | None = None, phase: str | None = None, total: float | None = None, **fields: Any) -> None:
        """Move the bar; ``rate``/``eta``/``phase`` stay until changed; other keywords are short
        fields shown after them (floats to 4 significant digits)."""
        for key, value in fields.items():
            self.fields[key] = f"{value:.4g}" if isinstance(value, float) else str(value)
        if rate is not None:
            self.rate = rate
        if eta is not None:
            self.eta = eta
        if phase is not None:
            self.phase = phase
        if total is not None:
            self.total = total
            self._progress.update(self._task, total=total)
        if completed is not None:
            self._progress.update(self._task, completed=completed)
        else:
            self._progress.update(self._task, advance=advance)

    def __enter__(self) -> "ProgressBar":
        self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None and self.total:
            self.phase = ""
            self._progress.update(self._task, completed=self.total)
        self._progress.stop()
