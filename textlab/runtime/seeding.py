"""Seeding and the random state a checkpoint carries: Python, NumPy and torch (CPU and every
GPU), so that a resumed run continues the same random stream."""

from __future__ import annotations

import json
import random
import sys
from typing import Any

import numpy as np


def seed_everything(seed: int, import_torch: bool = True) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA: ``torch.manual_seed`` seeds every GPU) for
    reproducible runs. ``import_torch=False``: torch only if it is imported already, for jobs
    that may never need it (word2vec on a CPU) and whose torch work, if any, draws from its own
    seeded generators."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    if import_torch or "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)


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
