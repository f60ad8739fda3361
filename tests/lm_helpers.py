"""What the language-model tests (char and word) share: one torch thread per test, and a stop
flag that trips like a Ctrl-C between two training steps. A conftest imports the fixture to make
it apply to its folder."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class StopAfter:
    """A stop flag that trips after ``n`` polls, like a Ctrl-C between two steps."""

    def __init__(self, n):
        self.polls, self.n, self.signum = 0, n, None

    def __bool__(self):
        self.polls += 1
        if self.polls > self.n:
            self.signum = 2
        return self.signum is not None
