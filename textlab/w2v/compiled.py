"""The device engine's step made ready to run many times on the same buffers: as it is (eager),
compiled into one graph (``torch.compile(fullgraph=True)``: inductor's C++ on a CPU, Triton
kernels on CUDA), and on CUDA the compiled step captured once as a CUDA graph that every step
replays (one launch per step instead of dozens). Compiling is paid once per run; the compiled
code is cached in ``$TEXTLAB_HOME/cache/inductor`` (unless ``TORCHINDUCTOR_CACHE_DIR`` says
otherwise), so a later run with the same shapes loads it instead of compiling."""

from __future__ import annotations

import time
from typing import Callable

import torch

def describe(mode: str, device: torch.device) -> str:
    """What the card and the progress line call a step mode on a device."""
    return "compiled+cudagraph" if mode == "compiled" and device.type == "cuda" else mode


def use_inductor_cache() -> str:
    """inductor's cache in ``$TEXTLAB_HOME/cache/inductor`` unless the user chose a directory."""
    from textlab.runtime.device import use_compile_cache
    from textlab.store.places import textlab_home

    return use_compile_cache(str(textlab_home() / "cache" / "inductor"))


class StepRunner:
    """``runner()`` runs ``step(*args)`` once more on the same ``args``.

    Building it runs the step ``warmups`` times (the first compiles): the caller passes buffers
    whose steps change nothing (a learning rate of 0, or nothing left to train) and resets them
    afterwards. On CUDA the warm-up runs on a side stream and the compiled step is then captured
    as a CUDA graph (warm-up and capture as :mod:`torch.cuda.graphs` prescribes); ``seconds`` is
    the time all this took (the compile time shown on the progress line)."""

    def __init__(self, step: Callable, args: tuple, mode: str, device: torch.device, warmups: int = 2):
        if mode not in ("eager", "compiled"):
            raise ValueError(f"unknown step mode {mode!r}")
        self.args, self.mode, self.device = args, mode, device
        self.graph: torch.cuda.CUDAGraph | None = None
        started = time.perf_counter()
        if mode == "compiled":
            use_inductor_cache()
            self.fn = torch.compile(step, fullgraph=True, dynamic=False)
        else:
            self.fn = step
        if device.type == "cuda" and mode == "compiled":
            side = torch.cuda.Stream(device)
            side.wait_stream(torch.cuda.current_stream(device))
            with torch.cuda.stream(side):
                for _ in range(warmups):
                    self.fn(*args)
            torch.cuda.current_stream(device).wait_stream(side)
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                self.fn(*args)
            torch.cuda.synchronize(device)
        elif mode == "compiled":
            self.fn(*args)
        self.seconds = time.perf_counter() - started

    def __call__(self) -> None:
        if self.graph is not None:
            self.graph.replay()
        else:
            self.fn(*self.args)
