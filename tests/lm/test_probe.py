"""The shared probe with one shape (``--precision auto`` on a fixed shape): every precision is
timed, however slow the first, so the choice is a measured one; the card names the unit."""

from __future__ import annotations

from dataclasses import dataclass

from textlab.lm.probe import probe


@dataclass(frozen=True)
class Shape:
    name: str = "run"
    batch_size: int = 64
    seq_len: int = 70
    min_epochs: float = 0.0


def test_one_shape_measures_every_precision_even_past_the_probe_share():
    rates = {"fp32": 1_000.0, "bf16": 1_900.0}  # a busy machine: the first measurement alone takes 36 s
    now = [0.0]

    def run_steps(shape, precision, steps, start):
        tokens = steps * shape.batch_size * shape.seq_len
        start()
        now[0] += tokens / rates[precision]
        return tokens

    choice = probe(run_steps, (Shape(),), ("fp32", "bf16"), 120, 17_000_000, clock=lambda: now[0])
    assert [m.precision for m in choice.measurements] == ["fp32", "bf16"] and choice.precision == "bf16"
    summary = choice.summary((Shape(),), "tokens")
    assert summary["measurements"][1] == {"shape": "run", "precision": "bf16", "tokens_per_second": 1900.0,
                                          "seconds": 18.9}
    assert summary["candidates"] == [{"shape": "run", "min_epochs": 0.0}]


def test_a_run_capped_by_epochs_expects_no_more_and_keeps_a_shape_that_needs_no_more():
    """`--epochs 1 --max-minutes 1000000`: the time would allow millions of epochs, the run stops
    after one, so a shape that needs 10 epochs to pay off is not chosen for it."""
    from textlab.lm.probe import Measurement, choose

    shapes = (Shape("narrow", min_epochs=0.0), Shape("wide", min_epochs=10.0))
    rates = [Measurement("narrow", "fp32", 20_000.0, 1.0), Measurement("wide", "fp32", 10_000.0, 1.0)]
    free = choose(rates, shapes, 50_000, 60_000_000)
    assert free.shape.name == "wide" and free.expected_epochs > 1e6
    capped = choose(rates, shapes, 50_000, 60_000_000, max_epochs=1)
    assert capped.shape.name == "narrow" and capped.expected_epochs == 1
