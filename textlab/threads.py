"""Pick torch's CPU thread count by measuring it, while training runs.

On a quiet 2-core machine two threads train a char LSTM about 60% faster than one; when
another busy process shares the cores, OpenMP's spinning barriers make two threads collapse
(measured here: 18.9k -> 4.8k chars/s, while one thread still does 11.5k). No static choice is
right for both, and the load changes during a run, so :class:`ThreadTuner` times a few steps at
each candidate count now and then and keeps the fastest.

Tuning is off when the user fixed the count (``OMP_NUM_THREADS`` or ``TEXTLAB_THREADS``), on
GPUs, under torchrun with several processes (ranks whose thread counts differ could round
gradient norms differently and drift apart), and when torch has a single thread anyway. The thread count can change the order of
floating-point sums, so a tuned run is not bit-identical to another run; fix the count to get
that.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import TYPE_CHECKING, Callable, Iterator

if TYPE_CHECKING:
    import torch

THREADS_ENV = "TEXTLAB_THREADS"


def _env_threads(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def user_fixed_threads() -> int | None:
    """The thread count the user asked for through the environment, if any."""
    for name in (THREADS_ENV, "OMP_NUM_THREADS"):
        if (threads := _env_threads(name)) is not None:
            return threads
    return None


@contextlib.contextmanager
def library_threads(user_api: str = "blas", threads: int = 1) -> Iterator[None]:
    """A native library's thread pool (``blas``: numpy's OpenBLAS or MKL; ``openmp``:
    scikit-learn's) on ``threads`` threads for the block, unless the user fixed the count. Their
    spinning threads wait on each other beside another busy process: numpy's small products one
    after another (``generate``, one-line ``sentiment``) gain nothing from a second thread, and
    ``generate --len 1000`` took 8.3 s beside a training run (load 3), 0.46 s on one thread
    (AMD EPYC, session 11); sklearn's t-SNE took 24 s for 300 words, 1 s on one."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=user_fixed_threads() or threads, user_api=user_api):
        yield


class ThreadTuner:
    """Call :meth:`step` after every training step with the work it did (characters, words).

    Every ``interval`` seconds the tuner measures ``probe_steps`` steps at each candidate
    thread count (after one settling step) and keeps the one with the highest work rate. Probing
    the slower count costs time, so when the same count wins again by a clear margin (30%) the
    interval doubles, up to 8x; a close or changed result brings it back to ``interval``.
    """

    def __init__(self, candidates: list[int], interval: float = 30.0, probe_steps: int = 6,
                 clock: Callable[[], float] = time.perf_counter,
                 set_threads: Callable[[int], None] | None = None):
        self.candidates = sorted(set(int(c) for c in candidates if c >= 1), reverse=True)
        self.interval, self.probe_steps = float(interval), int(probe_steps)
        self.wait = self.interval  # the current interval between probe rounds (backs off while stable)
        if set_threads is None:
            import torch

            set_threads = torch.set_num_threads
        self.clock, self.set_threads = clock, set_threads
        self.enabled = len(self.candidates) > 1
        self.current = self.candidates[0] if self.candidates else 1
        self.chosen = self.current  # the count training runs with between probes (current may be a probe's)
        self.history: list[dict] = []  # one record per probe round: rates and the choice
        self._probing = self.enabled
        self._next_probe = 0.0
        self._start_round()

    @classmethod
    def for_device(cls, device: torch.device, **kwargs) -> "ThreadTuner":
        """A tuner over {torch's current count, 1} on CPU; a no-op elsewhere or when fixed."""
        import torch

        fixed = _env_threads(THREADS_ENV)  # OMP_NUM_THREADS torch applies by itself
        if device.type == "cpu" and fixed is not None:
            torch.set_num_threads(fixed)
        threads = torch.get_num_threads()
        distributed = os.environ.get("WORLD_SIZE", "1").strip() not in ("", "1")  # ranks must compute alike
        if device.type != "cpu" or user_fixed_threads() is not None or threads <= 1 or distributed:
            return cls([threads], **kwargs)
        return cls([threads, 1], **kwargs)

    # ------------------------------------------------------------------ internals
    def _start_round(self) -> None:
        self._rates: dict[int, float] = {}
        self._queue = list(self.candidates)
        if self.enabled:
            self._begin(self._queue.pop(0))

    def _begin(self, threads: int) -> None:
        self.current = threads
        self.set_threads(threads)
        self._settling, self._steps, self._work, self._since = True, 0, 0.0, self.clock()

    def _finish_round(self) -> None:
        best = max(self._rates, key=self._rates.get)
        runner_up = max((v for k, v in self._rates.items() if k != best), default=0.0)
        clear = runner_up * 1.3 <= self._rates[best]
        stable = clear and bool(self.history) and self.history[-1]["chosen"] == best
        self.wait = min(self.wait * 2, 8 * self.interval) if stable else self.interval
        self.history.append({"rates": {str(k): round(v, 1) for k, v in self._rates.items()}, "chosen": best})
        self.current = self.chosen = best
        self.set_threads(best)
        self._probing = False
        self._next_probe = self.clock() + self.wait

    # ------------------------------------------------------------------ public
    def step(self, work: float) -> None:
        if not self.enabled:
            return
        now = self.clock()
        if not self._probing:
            if now >= self._next_probe:
                self._probing = True
                self._start_round()
            return
        if self._settling:  # the first step after a change pays for thread start-up: not counted
            self._settling, self._since = False, now
            return
        self._steps += 1
        self._work += work
        if self._steps >= self.probe_steps:
            self._rates[self.current] = self._work / max(now - self._since, 1e-9)
            if self._queue:
                self._begin(self._queue.pop(0))
            else:
                self._finish_round()

    def finish(self) -> None:
        """End of training: a probe cut short leaves the count the last complete round chose."""
        if self.enabled and self.current != self.chosen:
            self.current = self.chosen
            self.set_threads(self.chosen)
        self._probing = False

    def summary(self) -> dict:
        """For the model card: the candidates, the count training ran with (the last complete
        round's choice, not a probe's count a run may have ended in) and that round's rates."""
        return {"candidates": self.candidates, "threads": self.chosen,
                "last_rates": self.history[-1]["rates"] if self.history else {}, "rounds": len(self.history),
                "ended_during_probe": bool(self.enabled and self._probing)}


@contextlib.contextmanager
def tuned_threads(device: torch.device, fixed: int = 0) -> Iterator[ThreadTuner]:
    """A training loop's block with its own thread count: ``fixed`` threads when given, else the
    count the user fixed in the environment, else a :class:`ThreadTuner` over {every core this
    process may use, 1}; torch's count is restored afterwards (a loop that runs inside a block
    held at one thread gets the cores back only here)."""
    from textlab.runtime.device import default_workers, torch_threads

    if device.type != "cpu":
        yield ThreadTuner.for_device(device)  # off, the thread count untouched
        return
    count = fixed or user_fixed_threads() or default_workers()
    with torch_threads(count):
        tuner = ThreadTuner([count]) if fixed else ThreadTuner.for_device(device)
        try:
            yield tuner
        finally:
            tuner.finish()
