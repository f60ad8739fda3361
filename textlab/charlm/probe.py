"""Budget-aware defaults for the char LM: when the user fixes neither the shape nor the
precision, a run with a time budget first times a few candidate set-ups on its own data, then
picks the one expected to reach the lowest validation loss within the budget (the mechanism
and the rule: :mod:`textlab.lm.probe`).

Why measure: the same command runs 2x faster or slower on CPUs that look alike by their flags
(bf16 autocast is 2.5-4x faster than fp32 on an Intel CPU with AMX and slower than fp32 on an
AMD Zen 4 with AVX-512 BF16), so the flags cannot say which set-up fits a budget.

The char LM's candidates (:data:`textlab.charlm.config.CPU_SHAPES`, narrow to wide, each with
the epochs it needs before it beats the next narrower one in the same time; from epoch-matched
runs on tinyshakespeare, README, char LSTM: 1x512/16 reaches 1.474 after 10 epochs and 1.446
after 14; 1x768/32 reaches 1.452 after 12 epochs but 1.520 after 6.7, so it needs about 10 to
win). The probe costs at most ``PROBE_SHARE`` of the budget; its figures and the choice go into
the card (:func:`card_summary`).
"""

from __future__ import annotations

from textlab.charlm.config import CPU_SHAPES
from textlab.lm.probe import MIN_PROBE_BUDGET, PROBE_SHARE, Choice, Measurement, choose, probe  # noqa: F401


def card_summary(choice: Choice) -> dict:
    """What the char LM's card records of a probe (its candidates are the CPU shapes)."""
    return choice.summary(CPU_SHAPES, "chars")
