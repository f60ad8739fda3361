"""Runtime services shared by every trainer: device choice, seeding, progress bars,
signal-safe interruption and checkpoint IO (safetensors + JSON, never pickle)."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn
from rich.text import Text

from textlab.atomic import atomic_write_bytes, atomic_write_text
from textlab.errors import DataError, UsageError

if TYPE_CHECKING:  # torch is imported where it is used, so light commands start fast
    import torch

#: Rich console for human-facing messages; stdout stays clean for data.
console = Console(stderr=True, highlight=False)

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` is CUDA when available, else CPU. Asking for CUDA without it is a user error."""
    import torch

    name = (name or "auto").lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UsageError("--device cuda was asked for, but CUDA is not available on this machine")
        return torch.device(name)
    raise UsageError(f"unknown device {name!r}; use one of: auto, cpu, cuda")


PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def precision_candidates(device: torch.device) -> tuple[str, ...]:
    """The precisions worth timing on ``device`` ("auto" picks the one measured faster there):
    fp32 always; on a CPU bf16 autocast where the CPU has bf16 instructions (AMX or AVX-512
    BF16: measured 2.5-4x faster on an AMX CPU, slower on a Zen 4 one: README, char LSTM); on
    CUDA fp16 autocast with a gradient scaler where tensor cores exist (compute capability 7.0
    or newer). bf16 autocast is not offered on CUDA: the recurrent layers go through cuDNN,
    whose autocast path computes in fp16 whatever dtype is asked (unscaled fp16 gradients)."""
    import torch

    if device.type == "cpu":
        native = getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)() or \
            getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)()
        return ("fp32", "bf16") if native else ("fp32",)
    if device.type == "cuda":
        return ("fp32", "fp16") if torch.cuda.get_device_capability(device)[0] >= 7 else ("fp32",)
    return ("fp32",)


def check_precision(name: str, device: torch.device) -> str:
    """An explicit ``--precision`` for ``device`` ("auto" passes through, to be measured)."""
    name = (name or "auto").lower()
    if name not in PRECISIONS:
        raise UsageError(f"unknown precision {name!r}; use one of: {', '.join(PRECISIONS)}")
    if name == "fp16" and device.type != "cuda":
        raise UsageError("--precision fp16 is for CUDA (with a gradient scaler); on a CPU use bf16 or fp32")
    if name == "bf16" and device.type == "cuda":
        raise UsageError("--precision bf16 is not offered on CUDA: cuDNN's recurrent layers compute in fp16 "
                         "under autocast whatever dtype is asked; use --precision fp16 (with a gradient "
                         "scaler) or fp32")
    return name


def autocast(device: torch.device, precision: str):
    """The autocast context for ``precision`` (a no-op for fp32; weights stay float32)."""
    import torch

    dtype = torch.float16 if precision == "fp16" else torch.bfloat16
    return torch.autocast(device_type=device.type, dtype=dtype, enabled=precision in ("bf16", "fp16"))


def checkpoint_dir_for(output: Path) -> Path:
    """Where an interrupted run that would save the model ``output`` keeps its resumable
    checkpoint: ``<output>.ckpt`` beside it (every trainer uses this one rule)."""
    output = Path(output)
    return output.with_name(output.name + ".ckpt")


def default_workers(cap: int = 8) -> int:
    """Worker processes when the user names no count: one per CPU core this process may use,
    at most ``cap``."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, cap))


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA: ``torch.manual_seed`` seeds every GPU) for
    reproducible runs."""
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


_forking = threading.local()


def _block_sigterm() -> None:
    _forking.was_blocked = signal.SIGTERM in signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})


def _unblock_sigterm() -> None:
    if not getattr(_forking, "was_blocked", False):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})


def _default_sigterm_in_child() -> None:
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    except ValueError:  # not the main thread of the child: leave it
        pass
    _unblock_sigterm()


# A forked child (a multiprocessing worker) must die on SIGTERM as Pool.terminate() expects, even
# when blocked in C code where no Python-level handler inherited from the parent could ever run.
# SIGTERM stays blocked from just before the fork until the child has the default action: one
# that arrived earlier (a pool terminated right after it started, on a busy machine) would meet
# the parent's handler, whose pending call the child drops, and the pool would wait forever.
os.register_at_fork(before=_block_sigterm, after_in_parent=_unblock_sigterm,
                    after_in_child=_default_sigterm_in_child)


def forward_if_forked(owner_pid: int, signum: int) -> None:
    """In a process forked from the one that installed a signal handler (a multiprocessing
    worker), act as if no handler were installed: ``Pool.terminate()`` relies on SIGTERM
    killing its workers, and a worker that only raised an exception or set a flag would hang it."""
    if os.getpid() != owner_pid:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def progress_enabled() -> bool:
    """Bars are drawn unless ``TEXTLAB_NO_PROGRESS`` is set, and only by rank 0 of a torchrun job."""
    if os.environ.get("RANK", "0").strip() not in ("", "0"):
        return False
    return os.environ.get("TEXTLAB_NO_PROGRESS", "") in ("", "0")


def human_rate(value: float | None, unit: str) -> str:
    """``412.3k words/s``; bytes as ``12.4 MB/s``."""
    if value is None:
        return f"? {unit}/s"
    if unit == "B":
        for factor, suffix in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
            if value >= factor:
                return f"{value / factor:.1f} {suffix}/s"
        return f"{value:.0f} B/s"
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= factor:
            return f"{value / factor:.1f}{suffix} {unit}/s"
    return f"{value:.1f} {unit}/s"


def _clock(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "-:--:--"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class _StatusColumn(ProgressColumn):
    """Everything after the bar as one line cut to the terminal's width (never wrapped):
    ``42%  12.3k chars/s  eta 0:03:12  loss=1.43``. The rate is the one the caller measured
    (``rate=``, e.g. training time only, as its summary reports it) or rich's recent average;
    the ETA comes from what is left and that rate, or from the caller (``eta=``, e.g. a time
    budget); ``took`` once finished; elapsed time when no total is known."""

    def __init__(self, bar: "ProgressBar"):
        super().__init__()
        self.bar = bar

    def render(self, task) -> Text:
        parts = []
        if task.total:
            parts.append(f"{100 * task.completed / task.total:3.0f}%")
        else:
            parts.append(f"{task.completed:,.0f}" + (" B" if self.bar.unit == "B" else f" {self.bar.unit}"))
        rate = self.bar.rate if self.bar.rate is not None else (task.finished_speed or task.speed)
        parts.append(human_rate(rate, self.bar.unit))
        if task.finished:
            parts.append(f"took {_clock(task.finished_time or task.elapsed)}")
        elif task.total:
            eta = self.bar.eta
            if eta is None:
                eta = (task.total - task.completed) / rate if rate else None
            parts.append(f"eta {_clock(eta)}")
        else:
            parts.append(_clock(task.elapsed))
        line = Text("  ".join(parts))
        if self.bar.phase:
            line.append("  " + self.bar.phase, style="yellow")
        if self.bar.fields:
            line.append("  " + " ".join(f"{k}={v}" for k, v in self.bar.fields.items()))
        room = max(10, console.width - len(task.description) - self.bar.width - 3)
        line.truncate(room, overflow="ellipsis")
        return line


class ProgressBar:
    """One progress bar that tells the truth at 80 columns: a known total (work, or a time
    budget), a real ETA, the caller's rate when it measures one, a phase (``validating``) and a
    few short fields such as the current loss, all on one line cut to the terminal's width.

    Use as a context manager::

        with ProgressBar(total=n_words, description="train", unit="words") as bar:
            bar.update(advance=1024, loss=2.31, rate=measured_words_per_s)
            bar.update(phase="validating")     # shown until an update with phase=""
    """

    def __init__(self, total: float | None, description: str, unit: str = "it", width: int = 16):
        self.total, self.unit, self.width = total, unit, width
        self.fields: dict[str, str] = {}
        self.rate: float | None = None
        self.eta: float | None = None
        self.phase = ""
        self._progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(bar_width=width),
                                  _StatusColumn(self), console=console, disable=not progress_enabled(),
                                  transient=False, refresh_per_second=4, expand=False)
        self._task = self._progress.add_task(description, total=total)

    def update(self, advance: float = 0, completed: float | None = None, *, rate: float | None = None,
               eta: float | None = None, phase: str | None = None, total: float | None = None, **fields: Any) -> None:
        """Move the bar; ``rate``/``eta``/``phase`` stay until changed; other keywords are short
        fields shown after them (floats to 4 significant digits)."""
        for key, value in fields.items():
            self.fields[key] = f"{value:.4g}" if isinstance(value, float) else str(value)
        if rate is not None:
            self.rate = rate
        if eta is not None:
            self.eta = eta
        if phase is not None:
            self.phase = phase
        if total is not None:
            self.total = total
            self._progress.update(self._task, total=total)
        if completed is not None:
            self._progress.update(self._task, completed=completed)
        else:
            self._progress.update(self._task, advance=advance)

    def __enter__(self) -> "ProgressBar":
        self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None and self.total:
            self.phase = ""
            self._progress.update(self._task, completed=self.total)
        self._progress.stop()


class StopRequest:
    """Set when SIGINT or SIGTERM arrives inside :func:`graceful_stop`; the loop polls it."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __bool__(self) -> bool:
        return self.signum is not None


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """``torch.set_num_threads(threads)`` for the block (0: leave it), restored afterwards."""
    import torch

    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def stop_signal_handler(handler) -> Iterator[None]:
    """Route SIGINT and SIGTERM to ``handler`` inside the block, then restore the previous
    handlers. Only in the main thread (signal handlers cannot live elsewhere); a no-op there."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def graceful_stop() -> Iterator[StopRequest]:
    """Turn SIGINT/SIGTERM into a flag so a training loop can save a checkpoint and exit.

    A second signal while the first is being handled raises KeyboardInterrupt at once.
    """
    request = StopRequest()
    owner = os.getpid()

    def handler(signum, frame):  # noqa: ARG001
        forward_if_forked(owner, signum)
        if request.signum is not None:
            raise KeyboardInterrupt
        request.signum = signum
        console.print(f"[yellow]{signal.Signals(signum).name} received: saving a checkpoint, please wait...")

    with stop_signal_handler(handler):
        yield request


class Timer:
    """Wall-clock budget helper for ``--max-minutes``."""

    def __init__(self, max_minutes: float | None = None):
        self.start = time.perf_counter()
        self.max_seconds = None if not max_minutes else max_minutes * 60.0

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def expired(self) -> bool:
        return self.max_seconds is not None and self.elapsed >= self.max_seconds


# --------------------------------------------------------------------------- checkpoints


def _flatten(prefix: str, value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Replace tensors in a nested structure by ``{"__tensor__": key}`` references."""
    import torch

    if isinstance(value, torch.Tensor):
        key = prefix or "root"
        tensors[key] = value.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(value, np.ndarray):
        return _flatten(prefix, torch.from_numpy(np.ascontiguousarray(value)), tensors)
    if isinstance(value, dict):
        return {"__dict__": [[_jsonable_key(k), _flatten(f"{prefix}.{k}", v, tensors)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return {"__list__": [_flatten(f"{prefix}.{i}", v, tensors) for i, v in enumerate(value)]}
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    raise TypeError(f"cannot checkpoint a value of type {type(value).__name__}")


def _jsonable_key(key: Any) -> Any:
    if isinstance(key, (str, int)):
        return key
    raise TypeError(f"cannot checkpoint a dict key of type {type(key).__name__}")


def _unflatten(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, dict):
        if "__tensor__" in value:
            return tensors[value["__tensor__"]]
        if "__dict__" in value:
            return {k: _unflatten(v, tensors) for k, v in value["__dict__"]}
        if "__list__" in value:
            return [_unflatten(v, tensors) for v in value["__list__"]]
    return value


def save_checkpoint(directory: Path, state: dict[str, Any]) -> None:
    """Write a nested state (model/optimizer state dicts, counters, RNG states) atomically.

    Tensors go to ``checkpoint.safetensors``, the structure to ``checkpoint.json``;
    the JSON is written last, so a checkpoint is complete exactly when its JSON exists.
    """
    from safetensors.torch import save

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    structure = _flatten("", state, tensors)
    # safetensors refuses tensors that share memory; clone to be safe.
    atomic_write_bytes(directory / "checkpoint.safetensors", save({k: v.clone() for k, v in tensors.items()}))
    atomic_write_text(directory / "checkpoint.json", json.dumps({"format": 1, "state": structure}))


def load_checkpoint(directory: Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (no unpickling)."""
    from safetensors.torch import load_file

    directory = Path(directory)
    meta_path = directory / "checkpoint.json"
    if not meta_path.is_file():
        raise DataError(f"no checkpoint to resume from in {directory}")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        tensors = load_file(str(directory / "checkpoint.safetensors"))
    except Exception as exc:  # corrupted or foreign files
        raise DataError(f"cannot read the checkpoint in {directory}: {exc}") from exc
    return _unflatten(meta["state"], tensors)


def rng_state() -> dict[str, Any]:
    """Capture Python/NumPy/torch RNG states so a resumed run continues the same random stream."""
    import torch

    np_state = np.random.get_state()
    state = {
        "python": json.dumps(random.getstate()),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *map(_plain, np_state[2:])],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():  # every GPU's generator (dropout on CUDA)
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def _plain(x: Any) -> Any:
    return x.item() if hasattr(x, "item") else x


def set_rng_state(state: dict[str, Any]) -> None:
    def _tuplify(x):
        return tuple(_tuplify(i) for i in x) if isinstance(x, list) else x

    import torch

    random.setstate(_tuplify(json.loads(state["python"])))
    kind, keys, *rest = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), *rest))
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        saved = list(state["cuda"])[: torch.cuda.device_count()]
        torch.cuda.set_rng_state_all([s.cpu() for s in saved])


def machine_info() -> dict:
    """The CPU this runs on (model name, core count, the flags that decide the arithmetic) and
    the load average: what every measured figure records beside itself."""
    info: dict[str, Any] = {"cpus": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()]}
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        info["cpu"] = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
        flags = set(next(line.split(":", 1)[1].split() for line in lines if line.startswith("flags")))
        info["flags"] = sorted(flags & {"avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile"})
    except (OSError, StopIteration):
        pass
    return info


def say(line: str, style: str | None = None) -> None:
    """One plain line for the user on stderr (never wrapped, no markup; ``style`` e.g. "yellow"
    for a warning): the output helper for every message that is not data."""
    console.print(line, markup=False, highlight=False, soft_wrap=True, style=style)


def debug_enabled() -> bool:
    return os.environ.get("TEXTLAB_DEBUG", "") not in ("", "0")


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()
