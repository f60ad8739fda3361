"""The set-up probe: a fake clock feeds it the rates of an AMD Zen 4 CPU (bf16 slower than fp32)
and of an Intel CPU with AMX (bf16 2.5-4x faster); the rule must choose from those rates alone."""

from __future__ import annotations

import pytest

from textlab.charlm.config import CPU_SHAPES
from textlab.charlm.probe import PROBE_SHARE, Measurement, choose, probe

TRAIN_CHARS = 1_003_854  # tinyshakespeare's training part

# chars/s on each kind of CPU (2 cores; README, char LSTM): AMD EPYC Zen 4 (AVX-512 BF16, no AMX)
# measured in this project, 1x512 bf16 1.7x fp32 and 1x768 too slow for 10 epochs in 10 minutes;
# the Intel AMX machine's 1x768/32 bf16 rate as measured there (22.5k: 12.7 epochs in 10 minutes)
AMD_ZEN4 = {("1x512/16", "fp32"): 14_900, ("1x512/16", "bf16"): 25_300,
            ("1x768/32", "fp32"): 8_300, ("1x768/32", "bf16"): 10_800}
INTEL_AMX = {("1x512/16", "fp32"): 9_100, ("1x512/16", "bf16"): 34_700,
             ("1x768/32", "fp32"): 5_200, ("1x768/32", "bf16"): 22_500}


class FakeMachine:
    """Runs 'steps' by advancing a clock by the work divided by the rate of that set-up."""

    def __init__(self, rates: dict):
        self.rates, self.now, self.calls = rates, 0.0, []

    def clock(self) -> float:
        return self.now

    def run_steps(self, shape, precision, steps, start) -> int:
        chars = steps * shape.batch_size * shape.seq_len
        self.now += 0.5  # building the model and its warm-up step: not timed
        start()
        self.now += chars / self.rates[(shape.name, precision)]
        self.calls.append((shape.name, precision, steps))
        return chars


@pytest.mark.parametrize("rates, budget, expected", [
    (INTEL_AMX, 600, ("1x768/32", "bf16")),   # AMX: bf16 makes the wide model fit 10 minutes (13 epochs)
    (AMD_ZEN4, 600, ("1x512/16", "bf16")),    # Zen 4: 1x768 gets 6 epochs; 1x512 in bf16 gets 14
    (AMD_ZEN4, 1200, ("1x768/32", "bf16")),   # with 20 minutes the wide one fits here too
    (INTEL_AMX, 120, ("1x512/16", "bf16")),   # 2 minutes: too few epochs for the wide one
])
def test_the_rule_picks_from_measured_rates_alone(rates, budget, expected):
    machine = FakeMachine(rates)
    choice = probe(machine.run_steps, CPU_SHAPES, ("fp32", "bf16"), budget, TRAIN_CHARS, clock=machine.clock)
    assert (choice.shape.name, choice.precision) == expected
    assert choice.probe_seconds <= PROBE_SHARE * budget + 5  # the probe's share of the budget (one set-up may overrun)
    for m in choice.measurements:  # the rates measured are the machine's, warm-up excluded
        assert m.chars_per_second == pytest.approx(rates[(m.shape, m.precision)])
    assert choice.summary()["measurements"] and choice.summary()["reason"]
    fastest = max(rates[(choice.shape.name, p)] for p in ("fp32", "bf16"))
    assert choice.expected_epochs == pytest.approx(fastest * (budget - choice.probe_seconds) / TRAIN_CHARS)


def test_where_bf16_is_slower_fp32_is_chosen():
    no_bf16_gain = {**AMD_ZEN4, ("1x512/16", "bf16"): 12_000, ("1x768/32", "bf16"): 7_000}
    machine = FakeMachine(no_bf16_gain)
    choice = probe(machine.run_steps, CPU_SHAPES, ("fp32", "bf16"), 600, TRAIN_CHARS, clock=machine.clock)
    assert (choice.shape.name, choice.precision) == ("1x512/16", "fp32")


def test_fp32_wins_ties_and_a_huge_corpus_gets_the_fastest_shape():
    near = [Measurement("1x512/16", "fp32", 10_000, 1), Measurement("1x512/16", "bf16", 10_400, 1)]
    assert choose(near, CPU_SHAPES, TRAIN_CHARS, 600).precision == "fp32"  # within 5%: the exact arithmetic
    rates = [Measurement("1x512/16", "fp32", 15_000, 1), Measurement("1x768/32", "fp32", 8_000, 1)]
    huge = choose(rates, CPU_SHAPES, 90_000_000, 600)  # text8: a tenth of an epoch at most
    assert huge.shape.name == "1x512/16" and "1x768/32 0.1 (needs 10)" in huge.reason


def test_the_probe_stays_within_its_share_of_a_short_budget():
    machine = FakeMachine(INTEL_AMX)
    choice = probe(machine.run_steps, CPU_SHAPES, ("fp32", "bf16"), 150, TRAIN_CHARS, clock=machine.clock)
    assert choice.probe_seconds < 0.15 * 150 and len(machine.calls) < 4
