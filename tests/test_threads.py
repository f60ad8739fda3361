"""The thread tuner keeps the thread count that a (simulated) clock says is fastest."""

import pytest
import torch

from textlab.threads import ThreadTuner, user_fixed_threads


class FakeMachine:
    """Step time per thread count, changeable to simulate another job arriving."""

    def __init__(self, seconds_per_step):
        self.seconds_per_step = dict(seconds_per_step)
        self.now = 0.0
        self.threads = None
        self.set_calls = []

    def clock(self):
        return self.now

    def set_threads(self, n):
        self.threads = n
        self.set_calls.append(n)

    def run_step(self, tuner):
        self.now += self.seconds_per_step[self.threads]
        tuner.step(100)


def test_keeps_the_faster_count_and_switches_when_the_load_changes():
    machine = FakeMachine({2: 0.05, 1: 0.08})  # quiet: 2 threads faster
    tuner = ThreadTuner([2, 1], interval=10.0, probe_steps=4, clock=machine.clock, set_threads=machine.set_threads)
    for _ in range(40):
        machine.run_step(tuner)
    assert tuner.current == 2 and machine.threads == 2
    assert tuner.history[0]["chosen"] == 2
    assert set(tuner.history[0]["rates"]) == {"1", "2"}
    machine.seconds_per_step = {2: 0.4, 1: 0.09}  # a busy neighbour: 2 threads collapse
    for _ in range(200):
        machine.run_step(tuner)
    assert tuner.current == 1 and machine.threads == 1
    assert tuner.history[-1]["chosen"] == 1
    assert tuner.summary()["threads"] == 1


def test_single_candidate_never_touches_threads():
    machine = FakeMachine({3: 0.1})
    machine.threads = 3
    tuner = ThreadTuner([3], clock=machine.clock, set_threads=machine.set_threads)
    for _ in range(50):
        machine.run_step(tuner)
    assert machine.set_calls == [] and not tuner.enabled


@pytest.fixture
def torch_threads():
    """torch's thread count is process-wide: put back what a test changes."""
    before = torch.get_num_threads()
    yield before
    torch.set_num_threads(before)


def test_user_fixed_threads_disables_tuning(monkeypatch, torch_threads):
    monkeypatch.setenv("TEXTLAB_THREADS", "2")
    assert user_fixed_threads() == 2
    assert not ThreadTuner.for_device(torch.device("cpu")).enabled
    assert torch.get_num_threads() == 2  # TEXTLAB_THREADS is applied (and undone by the fixture)
    monkeypatch.delenv("TEXTLAB_THREADS")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert user_fixed_threads() is None
    assert not ThreadTuner.for_device(torch.device("cuda")).enabled
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert not ThreadTuner.for_device(torch.device("cpu")).enabled


def test_a_run_ending_inside_a_probe_reports_the_count_it_trained_with():
    machine = FakeMachine({2: 0.05, 1: 0.08})
    tuner = ThreadTuner([2, 1], interval=1.0, probe_steps=4, clock=machine.clock, set_threads=machine.set_threads)
    for _ in range(12):  # first round: 2 threads are faster
        machine.run_step(tuner)
    assert tuner.history and tuner.chosen == 2
    while not (tuner._probing and machine.threads == 1):  # the next round is now timing one thread
        machine.run_step(tuner)
    summary = tuner.summary()
    assert summary["threads"] == 2 and summary["ended_during_probe"] is True
    tuner.finish()
    assert machine.threads == 2 and tuner.current == 2


def test_probing_backs_off_while_the_same_count_wins_clearly():
    machine = FakeMachine({2: 0.05, 1: 0.12})  # 2 threads clearly faster
    tuner = ThreadTuner([2, 1], interval=10.0, probe_steps=4, clock=machine.clock, set_threads=machine.set_threads)
    for _ in range(3000):
        machine.run_step(tuner)
    assert tuner.wait == 80.0 and all(r["chosen"] == 2 for r in tuner.history)
    rounds = len(tuner.history)
    assert rounds < 3000 * 0.05 / 10  # fewer rounds than one per interval
    machine.seconds_per_step = {2: 0.4, 1: 0.09}  # the load changes: the next round notices
    for _ in range(400):
        machine.run_step(tuner)
    switched = next(i for i, r in enumerate(tuner.history) if r["chosen"] == 1)
    assert tuner.chosen == 1 and switched == rounds  # the very next round, with the wait reset then
