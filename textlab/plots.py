"""Pictures people would rather look at than read: training curves (headless matplotlib)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Mapping, Sequence

from textlab.atomic import atomic_write_bytes

CURVE_FILE = "curve.png"


def save_training_curve(path: Path, series: Mapping[str, Sequence[float]], title: str, **options) -> Path | None:
    """Write :func:`render_training_curve`'s PNG atomically; None when there is nothing to plot."""
    png = render_training_curve(series, title, **options)
    if png is None:
        return None
    atomic_write_bytes(Path(path), png)
    return Path(path)


def render_training_curve(
    series: Mapping[str, Sequence[float]],
    title: str,
    xlabel: str = "epoch",
    secondary: Mapping[str, Sequence[float]] | None = None,
    secondary_label: str = "accuracy",
    x: Sequence[float] | Mapping[str, Sequence[float]] | None = None,
) -> bytes | None:
    """Plot each named series (e.g. train/valid loss per epoch) as PNG bytes, to be saved with
    a model (``curve.png``). ``secondary`` series (e.g. validation accuracy) go on a right-hand
    axis. ``x`` gives the positions of the points (e.g. fractional epochs), for all series or
    per series name (a training loss read every few steps beside a validation loss per
    epoch); default 1, 2, 3... Series of many points are drawn as lines without markers.
    Returns None when there is nothing to plot (no series with at least one point).
    """
    if not any(len(values) for values in series.values()):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.2), dpi=110)
    try:
        for name, values in series.items():
            if len(values):
                dense = len(values) > 60
                axis.plot(_positions(x, values, name), list(values), marker=None if dense else "o", markersize=3,
                          linewidth=1.0 if dense else 1.5, label=name)
        if x is None:
            from matplotlib.ticker import MaxNLocator

            axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_xlabel(xlabel)
        axis.set_ylabel("loss")
        axis.grid(True, alpha=0.3)
        handles, labels = axis.get_legend_handles_labels()
        if secondary and any(len(v) for v in secondary.values()):
            right = axis.twinx()
            for name, values in secondary.items():
                if len(values):
                    right.plot(_positions(x, values, name), list(values), linestyle="--", marker="s", markersize=3,
                               color="tab:green", label=name)
            right.set_ylabel(secondary_label)
            more_handles, more_labels = right.get_legend_handles_labels()
            handles, labels = handles + more_handles, labels + more_labels
        axis.legend(handles, labels, loc="best")
        axis.set_title(title)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    finally:
        plt.close(figure)
    return buffer.getvalue()


def _positions(x, values: Sequence[float], name: str = "") -> list[float]:
    if isinstance(x, Mapping):
        x = x.get(name)
    return list(range(1, len(values) + 1)) if x is None else list(x)[: len(values)]
