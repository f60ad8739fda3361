"""Checkpoint IO: a nested state (model and optimizer state dicts, counters, RNG states) as
``checkpoint.safetensors`` (tensors) and ``checkpoint.json`` (the structure); never pickle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from textlab.atomic import atomic_write_bytes, atomic_write_text
from textlab.errors import DataError

if TYPE_CHECKING:  # torch is imported where it is used
    import torch


def checkpoint_dir_for(output: Path) -> Path:
    """Where an interrupted run that would save the model ``output`` keeps its resumable
    checkpoint: ``<output>.ckpt`` beside it (every trainer uses this one rule)."""
    output = Path(output)
    return output.with_name(output.name + ".ckpt")


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
