"""Where and how tensors are computed: the device (``--device``), the precision
(``--precision``: autocast), and how many CPU workers and torch threads a job uses."""

from __future__ import annotations

import contextlib
import glob
import os
import sys
from typing import TYPE_CHECKING, Iterator

from textlab.errors import UsageError

if TYPE_CHECKING:  # torch is imported where it is used, so light commands start fast
    import torch


DEVICE_CHOICES = ("auto", "cpu", "cuda")

#: Device files of every GPU torch.cuda can use on Linux: the NVIDIA driver's control device and
#: GPUs, WSL's GPU paravirtualisation, ROCm's compute device (torch.cuda on AMD GPUs).
GPU_DEVICE_FILES = ("/dev/nvidiactl", "/dev/nvidia[0-9]*", "/dev/dxg", "/dev/kfd")


def cuda_possible() -> bool:
    """False when this machine cannot have CUDA, known without importing torch (~1 s, ~275 MB):
    on Linux, none of :data:`GPU_DEVICE_FILES` exists. Elsewhere, and wherever one exists, True:
    torch is asked."""
    if not sys.platform.startswith("linux"):
        return True
    return any(glob.glob(pattern) for pattern in GPU_DEVICE_FILES)


def device_name(name: str = "auto") -> str:
    """:func:`pick_device` as a name ("cpu", "cuda", "cuda:1"), importing torch only when it must
    be asked: ``cpu``, and ``auto`` where :func:`cuda_possible` is false, need no torch."""
    name = (name or "auto").lower()
    if name == "cpu" or (name == "auto" and not cuda_possible()):
        return "cpu"
    return str(pick_device(name))


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` is CUDA when available, else CPU. Asking for CUDA without it is a user error."""
    import torch

    name = (name or "auto").lower()
    if name == "auto":
        return torch.device("cuda" if cuda_possible() and torch.cuda.is_available() else "cpu")
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


def default_workers(cap: int = 8) -> int:
    """Worker processes when the user names no count: one per CPU core this process may use,
    at most ``cap``."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, cap))


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


def use_compile_cache(directory: str) -> str:
    """Points torch.compile's cache (inductor's compiled kernels and FX graphs) at ``directory``
    unless the user chose one (``TORCHINDUCTOR_CACHE_DIR``), so that a later run with the same
    shapes loads its compiled code instead of compiling again; returns the directory in use."""
    if not os.environ.get("TORCHINDUCTOR_CACHE_DIR"):
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = directory
    return os.environ["TORCHINDUCTOR_CACHE_DIR"]
