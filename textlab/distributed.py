"""torch.distributed for textlab: detect a ``torchrun`` launch from its environment variables,
open the process group (gloo on CPU, nccl on CUDA) and the few collectives the trainers need.

Plain ``textlab ...`` runs (no RANK/WORLD_SIZE in the environment) never touch torch.distributed,
nor import torch for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from textlab.errors import UsageError

if TYPE_CHECKING:
    import torch

_TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass
class Distributed:
    """This process's place in a torchrun job, once the process group is open."""

    rank: int
    world_size: int
    local_rank: int
    backend: str
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    # ------------------------------------------------------------------ collectives

    def _tensor(self, values, dtype) -> torch.Tensor:
        import torch

        return torch.as_tensor(values, dtype=dtype).to(self.device)

    def all_reduce(self, values, op: str = "sum", dtype: torch.dtype | None = None) -> np.ndarray:
        """Element-wise sum / max / min of ``values`` over ranks (int64 unless ``dtype``)."""
        import torch
        import torch.distributed as dist

        tensor = self._tensor(np.atleast_1d(values), dtype or torch.int64)
        dist.all_reduce(tensor, op={"sum": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX, "min": dist.ReduceOp.MIN}[op])
        return tensor.cpu().numpy()

    def all_gather_bytes(self, payload: bytes) -> list[bytes]:
        """Every rank's ``payload``, in rank order (lengths first, then padded uint8 tensors)."""
        import torch
        import torch.distributed as dist

        lengths = [self._tensor([0], torch.int64) for _ in range(self.world_size)]
        dist.all_gather(lengths, self._tensor([len(payload)], torch.int64))
        longest = max(int(length.item()) for length in lengths)
        mine = torch.zeros(max(longest, 1), dtype=torch.uint8)
        if payload:
            mine[: len(payload)] = torch.frombuffer(bytearray(payload), dtype=torch.uint8)
        parts = [torch.empty_like(mine, device=self.device) for _ in range(self.world_size)]
        dist.all_gather(parts, mine.to(self.device))
        return [bytes(part[: int(length.item())].cpu().numpy()) for part, length in zip(parts, lengths)]

    def sum_(self, tensor: torch.Tensor) -> None:
        """Replace ``tensor`` (in place) by its sum over ranks."""
        import torch.distributed as dist

        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)

    def average_(self, *tensors: torch.Tensor) -> None:
        """Replace each tensor (in place) by its mean over ranks."""
        import torch.distributed as dist

        for tensor in tensors:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
            tensor.div_(self.world_size)

    def any(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is true on at least one."""
        return bool(self.all_reduce([int(flag)], "max")[0])

    def barrier(self) -> None:
        """Wait until every rank gets here (an all-reduce, so it works on gloo and nccl alike)."""
        self.all_reduce([0])

    def close(self) -> None:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for a local torchrun rendezvous)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment_without_torchrun(env: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of ``env`` (default: this process's) without torchrun's variables, so that a child
    started from inside a torchrun job is a plain process (or launches a job of its own)."""
    env = dict(os.environ if env is None else env)
    for name in (*_TORCHRUN_VARS, "LOCAL_WORLD_SIZE", "GROUP_RANK", "ROLE_RANK", "TORCHELASTIC_RUN_ID"):
        env.pop(name, None)
    return env


def local_torchrun(nprocs: int, *args: str) -> list[str]:
    """The command line of a one-machine torchrun job of ``nprocs`` processes on 127.0.0.1
    (tests, benchmarks and the GPU check start their distributed runs with it)."""
    import sys

    return [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nprocs), "--nnodes", "1",
            "--master-addr", "127.0.0.1", "--master-port", str(free_port()), *args]


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def saves_here() -> bool:
    """True in a plain run and in process 0 of a torchrun job: the process that writes the
    outputs (and so reserves their names)."""
    return os.environ.get("RANK", "0") == "0"


def relaunch_prefix() -> str:
    """The torchrun command line that starts a job of the current shape again (for resume hints)."""
    world, local = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("LOCAL_WORLD_SIZE", os.environ.get("WORLD_SIZE", "1")))
    nodes = f" --nnodes {world // max(local, 1)} ..." if world != local else ""
    return f"torchrun --nproc-per-node {local}{nodes}"


def init_from_environment(device: str = "auto") -> Distributed | None:
    """Open the process group when launched by torchrun (None otherwise). Backend ``nccl`` when
    the device is CUDA (one GPU per local rank), ``gloo`` on CPU. Only rank 0 draws progress
    bars (:func:`textlab.runtime.progress.progress_enabled` reads ``RANK``); nothing here changes the
    process environment."""
    if not launched_by_torchrun():
        return None
    import torch
    import torch.distributed as dist

    missing = [name for name in _TORCHRUN_VARS if name not in os.environ]
    if missing:
        raise UsageError(f"incomplete torch.distributed environment (missing {', '.join(missing)}); launch with torchrun")
    rank, world, local = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ["LOCAL_RANK"])
    from textlab.runtime.device import pick_device

    chosen = pick_device(device)
    if chosen.type == "cuda":
        chosen = torch.device("cuda", local)
        torch.cuda.set_device(chosen)
        backend = "nccl"
    elif chosen.type == "cpu":
        backend = "gloo"
    else:
        raise UsageError(f"distributed training supports cpu (gloo) and cuda (nccl), not {chosen.type}")
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
    return Distributed(rank=rank, world_size=world, local_rank=local, backend=backend, device=chosen)
