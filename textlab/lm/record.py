"""What a saved language model keeps of its training: the card's readable sample of the loss
curve and ``curve.png`` with every point (the training loss every read window, the validation
loss at each validation)."""

from __future__ import annotations

from textlab.plots import render_training_curve

CARD_CURVE_POINTS = 500


def thin(points: list, most: int) -> list:
    """At most ``most`` of ``points`` (``most`` >= 2), evenly spaced, the first and last kept."""
    if len(points) <= most:
        return list(points)
    step = -(-(len(points) - 1) // (most - 1))
    return list(points[:-1:step]) + [points[-1]]


def training_record(settings: dict, title: str) -> tuple[dict, bytes | None]:
    """The card's training settings (the curve thinned: a 10-minute run has thousands of points)
    and the PNG of the whole curve (None when there is nothing to draw)."""
    history = settings.get("history") or []
    steps = settings.get("curve") or [[h["epoch"], h["train_loss"]] for h in history]  # older runs: per validation
    card_settings = {**settings, "curve": thin(settings["curve"], CARD_CURVE_POINTS)} if settings.get("curve") else settings
    curve = render_training_curve(
        {"train loss": [y for _, y in steps], "validation loss": [h["val_loss"] for h in history]},
        title, x={"train loss": [x for x, _ in steps], "validation loss": [h["epoch"] for h in history]},
    )
    return card_settings, curve
