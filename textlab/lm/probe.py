"""Budget-aware set-up: time a few candidate set-ups (shape x precision) on the run's own data,
then pick the one expected to reach the lowest validation loss within the budget.

Why measure: the same command runs 2x faster or slower on CPUs that look alike by their flags
(bf16 autocast is 2.5-4x faster than fp32 on an Intel CPU with AMX and slower than fp32 on an
AMD Zen 4 with AVX-512 BF16 for the char LM, 1.9x faster there for the word LM), so the flags
cannot say which set-up fits a budget.

The rule (candidates from narrow to wide, each with the epochs it needs before it beats the
next narrower one in the same time; a kind's docstring says where its numbers come from):

1. for each shape keep its faster precision (ties within 5% go to fp32, which is exact);
2. expected epochs = measured ids/s x the budget left after probing / training ids;
3. choose the widest shape whose expected epochs reach its ``min_epochs``; if none does (a
   corpus too large for the budget), the shape with the most expected epochs.

A shape is anything with ``name``, ``min_epochs``, ``batch_size`` and ``seq_len``. The probe
costs at most ``PROBE_SHARE`` of the budget: each measurement is a few real training steps of a
fresh model after one warm-up step; its figures and the choice go into the card.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

#: At most this share of the time budget is spent probing.
PROBE_SHARE = 0.03
#: Below this budget (seconds) no shape is probed.
MIN_PROBE_BUDGET = 120.0
RULE = "widest shape whose expected epochs reach its min_epochs; faster precision per shape"


@dataclass
class Measurement:
    shape: str
    precision: str
    per_second: float  # ids (characters, tokens) trained per second
    seconds: float

    @property
    def chars_per_second(self) -> float:
        """The char LM's name for the rate."""
        return self.per_second


@dataclass
class Choice:
    shape: Any
    precision: str
    expected_epochs: float
    reason: str
    measurements: list[Measurement] = field(default_factory=list)
    probe_seconds: float = 0.0

    def summary(self, candidates: Sequence[Any] = (), unit: str = "chars") -> dict:
        """What the model card records (``candidates``: the shapes the rule chooses among)."""
        return {"shape": self.shape.name, "precision": self.precision, "expected_epochs": round(self.expected_epochs, 2),
                "reason": self.reason, "probe_seconds": round(self.probe_seconds, 2), "rule": RULE,
                "candidates": [{"shape": s.name, "min_epochs": s.min_epochs} for s in candidates],
                "measurements": [{"shape": m.shape, "precision": m.precision,
                                  f"{unit}_per_second": round(m.per_second, 1), "seconds": round(m.seconds, 1)}
                                 for m in self.measurements]}

    def rate(self) -> float:
        """The measured rate of the chosen set-up."""
        return next(m.per_second for m in self.measurements
                    if m.shape == self.shape.name and m.precision == self.precision)


def choose(measurements: list[Measurement], shapes: Sequence[Any], train_units: int, seconds_left: float,
           max_epochs: float | None = None) -> Choice:
    """Apply the rule to measured rates (see the module docstring); a run capped at
    ``max_epochs`` (``--epochs``) expects no more than that, whatever the time would allow."""
    best: dict[str, Measurement] = {}
    for shape in shapes:
        rates = [m for m in measurements if m.shape == shape.name]
        if not rates:
            continue
        fastest = max(rates, key=lambda m: m.per_second)
        exact = next((m for m in rates if m.precision == "fp32"), None)
        best[shape.name] = exact if exact is not None and fastest.per_second <= 1.05 * exact.per_second \
            else fastest
    cap = max_epochs if max_epochs else float("inf")
    epochs = {name: min(cap, m.per_second * seconds_left / max(train_units, 1)) for name, m in best.items()}
    measured = [s for s in shapes if s.name in best]
    fitting = [s for s in measured if epochs[s.name] >= s.min_epochs]
    shape = fitting[-1] if fitting else max(measured, key=lambda s: epochs[s.name])
    reason = ("expected epochs " + ", ".join(f"{s.name} {epochs[s.name]:.1f} (needs {s.min_epochs:g})" for s in measured)
              + ("; the widest that gets what it needs" if fitting else "; none gets what it needs: the most epochs"))
    return Choice(shape, best[shape.name].precision, epochs[shape.name], reason, list(measurements))


def probe(run_steps: Callable[..., int], shapes: Sequence[Any], precisions: tuple[str, ...],
          budget_seconds: float, train_units: int, clock: Callable[[], float] = time.perf_counter,
          steps: int = 8, max_epochs: float | None = None) -> Choice:
    """Time ``steps`` training steps of every shape at every precision and choose.
    ``run_steps(shape, precision, n, start)`` builds a fresh model, takes one warm-up step,
    calls ``start()`` and trains ``n`` more steps, returning the ids of those ``n`` (so that
    building the model and the first step's allocations are not timed; :func:`step_timer`
    makes one); the clock is injectable for tests. With several shapes, measuring stops when the
    probe's share of the budget is spent (the shapes measured so far are chosen from)."""
    started = clock()
    allowance = PROBE_SHARE * budget_seconds
    measurements: list[Measurement] = []
    for shape in shapes:
        if measurements:  # wider shapes: the precision that won on the narrowest first
            winner = max(measurements, key=lambda m: m.per_second).precision
            precisions = (winner, *(p for p in precisions if p != winner))
        for precision in precisions:
            if measurements and len(shapes) > 1 and clock() - started > allowance * 0.8:
                break  # (one shape: every precision is measured, or the choice would be no choice)
            begin: list[float] = []
            units = run_steps(shape, precision, steps, lambda: begin.append(clock()))
            elapsed = max(clock() - begin[0], 1e-9)
            measurements.append(Measurement(shape.name, precision, units / elapsed, elapsed))
    spent = clock() - started
    choice = choose(measurements, shapes, train_units, max(budget_seconds - spent, 0.0), max_epochs)
    choice.probe_seconds = spent
    return choice


def step_timer(build: Callable[[Any, str], tuple[Any, Any]], train_ids, device, threads: int = 0) -> Callable[..., int]:
    """``run(shape, precision, n, start)`` for :func:`probe`: ``build(shape, precision)`` gives a
    fresh model and its training config; it takes one warm-up step on ``train_ids``, ``start()``
    is called, then ``n`` real steps; returns the ids of those ``n`` (synchronised on CUDA).
    The run's random state is left alone; ``threads``: torch's CPU threads meanwhile (0: as
    they are)."""
    import numpy as np
    import torch

    from textlab.lm.streams import chunk, detach_state, make_streams
    from textlab.lm.trainer import build_optimizer
    from textlab.runtime.device import autocast, torch_threads

    def run(shape, precision: str, n: int, start: Callable[[], None]) -> int:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch_threads(threads):
            return steps(shape, precision, n, start)

    def steps(shape, precision: str, n: int, start: Callable[[], None]) -> int:
        torch.manual_seed(0)
        model, train_config = build(shape, precision)
        model = model.to(device)
        optimizer = build_optimizer(model, train_config)
        scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
        # a step never reads past its stream's end (as chunk() cuts in training), and a text shorter
        # than the probe's steps is repeated: every timed step has the size a training step has
        seq_len = min(shape.seq_len, max(1, len(train_ids) // shape.batch_size - 1))
        needed = shape.batch_size * ((n + 1) * seq_len + 2)
        streams = make_streams(np.resize(train_ids, needed), shape.batch_size).to(device)
        state = None
        for step in range(n + 1):
            if step == 1:
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                start()
            x, y = chunk(streams, step * seq_len, seq_len)
            with autocast(device, precision):
                _, loss, state = model(x, y, state)
            state = detach_state(state)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return n * shape.batch_size * shape.seq_len

    return run
