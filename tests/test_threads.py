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


def test_tuned_threads_gives_a_loop_every_core_or_one_and_restores_the_count(monkeypatch, torch_threads):
    import textlab.runtime.device as device_module
    from textlab.threads import tuned_threads

    torch.set_num_threads(1)  # the trainers' other stages run on one thread
    monkeypatch.delenv("TEXTLAB_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(device_module, "default_workers", lambda cap=8: 2)
    with tuned_threads(torch.device("cpu")) as tuner:
        assert tuner.enabled and tuner.candidates == [2, 1] and torch.get_num_threads() == 2
    assert torch.get_num_threads() == 1
    with tuned_threads(torch.device("cpu"), fixed=3) as tuner:  # a count given in the settings
        assert not tuner.enabled and torch.get_num_threads() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the user's count wins over the cores
    with tuned_threads(torch.device("cpu")) as tuner:
        assert not tuner.enabled and torch.get_num_threads() == 1
    with tuned_threads(torch.device("cuda")) as tuner:
        assert not tuner.enabled and torch.get_num_threads() == 1
    assert torch.get_num_threads() == 1


def test_sentiment_training_records_its_thread_choice(tmp_path, monkeypatch):
    import json

    from tests.sentiment.test_sentiment import EN_NEG, EN_POS, tiny_config, write_csv
    from textlab.sentiment.config import TrainSettings
    from textlab.sentiment.train import train_sentiment

    data = write_csv(tmp_path / "d.csv", EN_POS, EN_NEG, n=20)
    train_sentiment(str(data), tiny_config("en"), TrainSettings(epochs=1, batch_size=8, device="cpu"), tmp_path / "m")
    threads = json.loads((tmp_path / "m" / "config.json").read_text())["metrics"]["threads"]
    assert threads["threads"] == 1 and threads["candidates"] == [1]  # OMP_NUM_THREADS=1 under pytest: not tuned
