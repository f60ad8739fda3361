"""Budget-aware defaults: when the user fixes neither the shape nor the precision, a run with a
time budget first times a few candidate set-ups on its own data, then picks the one expected to
reach the lowest validation loss within the budget.

Why measure: the same command runs 2x faster or slower on CPUs that look alike by their flags
(bf16 autocast is 2.5-4x faster than fp32 on an Intel CPU with AMX and slower than fp32 on an
AMD Zen 4 with AVX-512 BF16), so the flags cannot say which set-up fits a budget.

The rule (candidates from narrow to wide, each with the epochs it needs before it beats the
next narrower one in the same time; from epoch-matched runs on tinyshakespeare, README, char
LSTM: 1x512/16 reaches 1.474 after 10 epochs and 1.446 after 14; 1x768/32 reaches 1.452 after
12 epochs but 1.520 after 6.7, so it needs about 10 to win):

1. for each shape keep its faster precision (ties within 5% go to fp32, which is exact);
2. expected epochs = measured chars/s x the budget left after probing / training chars;
3. choose the widest shape whose expected epochs reach its ``min_epochs``; if none does (a
   corpus too large for the budget), the shape with the most expected epochs.

The probe costs at most ``PROBE_SHARE`` of the budget: each measurement is a few real training
steps of a fresh model after one warm-up step; its figures and the choice go into the card.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable

from textlab.charlm.config import CPU_SHAPES, Shape

#: At most this share of the time budget is spent probing.
PROBE_SHARE = 0.03
#: Below this budget (seconds) nothing is probed: the narrowest shape in fp32.
MIN_PROBE_BUDGET = 120.0


@dataclass
class Measurement:
    shape: str
    precision: str
    chars_per_second: float
    seconds: float


@dataclass
class Choice:
    shape: Shape
    precision: str
    expected_epochs: float
    reason: str
    measurements: list[Measurement] = field(default_factory=list)
    probe_seconds: float = 0.0

    def summary(self) -> dict:
        """What the model card records."""
        return {"shape": self.shape.name, "precision": self.precision, "expected_epochs": round(self.expected_epochs, 2),
                "reason": self.reason, "probe_seconds": round(self.probe_seconds, 2),
                "rule": "widest shape whose expected epochs reach its min_epochs; faster precision per shape",
                "candidates": [{"shape": s.name, "min_epochs": s.min_epochs} for s in CPU_SHAPES],
                "measurements": [{k: (round(v, 1) if isinstance(v, float) else v) for k, v in asdict(m).items()}
                                 for m in self.measurements]}


def choose(measurements: list[Measurement], shapes: tuple[Shape, ...], train_chars: int, seconds_left: float) -> Choice:
    """Apply the rule to measured rates (see the module docstring)."""
    best: dict[str, Measurement] = {}
    for shape in shapes:
        rates = [m for m in measurements if m.shape == shape.name]
        if not rates:
            continue
        fastest = max(rates, key=lambda m: m.chars_per_second)
        exact = next((m for m in rates if m.precision == "fp32"), None)
        best[shape.name] = exact if exact is not None and fastest.chars_per_second <= 1.05 * exact.chars_per_second \
            else fastest
    epochs = {name: m.chars_per_second * seconds_left / max(train_chars, 1) for name, m in best.items()}
    measured = [s for s in shapes if s.name in best]
    fitting = [s for s in measured if epochs[s.name] >= s.min_epochs]
    shape = fitting[-1] if fitting else max(measured, key=lambda s: epochs[s.name])
    reason = ("expected epochs " + ", ".join(f"{s.name} {epochs[s.name]:.1f} (needs {s.min_epochs:g})" for s in measured)
              + ("; the widest that gets what it needs" if fitting else "; none gets what it needs: the most epochs"))
    return Choice(shape, best[shape.name].precision, epochs[shape.name], reason, list(measurements))


def probe(run_steps: Callable[..., int], shapes: tuple[Shape, ...], precisions: tuple[str, ...],
          budget_seconds: float, train_chars: int, clock: Callable[[], float] = time.perf_counter,
          steps: int = 8) -> Choice:
    """Time ``steps`` training steps of every shape at every precision and choose.
    ``run_steps(shape, precision, n, start)`` builds a fresh model, takes one warm-up step,
    calls ``start()`` and trains ``n`` more steps, returning the characters of those ``n`` (so
    that building the model and the first step's allocations are not timed); the clock is
    injectable for tests. Measuring stops when the probe's share of the budget is spent (the
    shapes measured so far are chosen from)."""
    started = clock()
    allowance = PROBE_SHARE * budget_seconds
    measurements: list[Measurement] = []
    for shape in shapes:
        if measurements:  # wider shapes: the precision that won on the narrowest first
            winner = max(measurements, key=lambda m: m.chars_per_second).precision
            precisions = (winner, *(p for p in precisions if p != winner))
        for precision in precisions:
            if measurements and clock() - started > allowance * 0.8:
                break
            begin: list[float] = []
            chars = run_steps(shape, precision, steps, lambda: begin.append(clock()))
            elapsed = max(clock() - begin[0], 1e-9)
            measurements.append(Measurement(shape.name, precision, chars / elapsed, elapsed))
    spent = clock() - started
    choice = choose(measurements, shapes, train_chars, max(budget_seconds - spent, 0.0))
    choice.probe_seconds = spent
    return choice
