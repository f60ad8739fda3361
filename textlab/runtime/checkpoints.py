"""Checkpoint IO: a nested state (model and optimizer state dicts, counters, RNG states) as
``checkpoint-<hash>.safetensors`` (tensors) and ``checkpoint.json`` (the structure, with the
tensors file's name, size and SHA-256 and the SHA-256 of the structure itself); never pickle.

``checkpoint.json`` is written last and names its tensors file, so a checkpoint is replaced in
one rename: a write that fails (a full disk) or a crash leaves the previous checkpoint whole. A
damaged file is refused by name when the checkpoint is read. (Checkpoints written before
format 2, ``checkpoint.safetensors`` without checksums, are still read.)

A state whose arrays are all numpy (word2vec's) is written and read through safetensors' numpy
functions, without importing torch; the file is the same bytes torch's writer makes."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from textlab.atomic import atomic_write_bytes, atomic_write_text, cannot_write
from textlab.errors import DataError, TextlabError
from textlab.integrity import check_file

def checkpoint_dir_for(output: Path) -> Path:
    """Where an interrupted run that would save the model ``output`` keeps its resumable
    checkpoint: ``<output>.ckpt`` beside it (every trainer uses this one rule)."""
    output = Path(output)
    return output.with_name(output.name + ".ckpt")


def _is_tensor(value: Any) -> bool:
    """A torch tensor (torch is not imported to ask: a process without it holds none)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def _flatten(prefix: str, value: Any, tensors: dict[str, Any]) -> Any:
    """Replace tensors and numpy arrays in a nested structure by ``{"__tensor__": key}``
    references (``tensors[key]``: a CPU tensor or a contiguous array)."""
    if _is_tensor(value):
        key = prefix or "root"
        tensors[key] = value.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(value, np.ndarray):
        key = prefix or "root"
        tensors[key] = np.ascontiguousarray(value)
        return {"__tensor__": key}
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


def _unflatten(value: Any, tensors: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        if "__tensor__" in value:
            return tensors[value["__tensor__"]]
        if "__dict__" in value:
            return {k: _unflatten(v, tensors) for k, v in value["__dict__"]}
        if "__list__" in value:
            return [_unflatten(v, tensors) for v in value["__list__"]]
    return value


FORMAT = 2
STRUCTURE_FILE = "checkpoint.json"
OLD_TENSORS_FILE = "checkpoint.safetensors"  # format 1


def _structure_digest(structure: Any) -> str:
    return hashlib.sha256(json.dumps(structure, sort_keys=True).encode("utf-8")).hexdigest()


def _serialize(tensors: dict[str, Any]) -> bytes:
    """The safetensors bytes of ``tensors``: through torch's writer when any is a torch tensor
    (numpy arrays beside them are converted), else through numpy's, without torch."""
    if not any(_is_tensor(value) for value in tensors.values()):
        from safetensors.numpy import save

        return save(tensors)
    import torch
    from safetensors.torch import save

    # safetensors refuses tensors that share memory; clone to be safe.
    return save({k: (v if _is_tensor(v) else torch.from_numpy(v)).clone() for k, v in tensors.items()})


def save_checkpoint(directory: Path, state: dict[str, Any], kind: str | None = None) -> None:
    """Write a nested state (model/optimizer state dicts, counters, RNG states) atomically.

    Tensors go to a new ``checkpoint-<hash>.safetensors``, then the structure to
    ``checkpoint.json``, which names it: a checkpoint is complete exactly when its JSON exists,
    and the previous one stays whole until then. A write the OS refuses is one line naming the
    checkpoint's directory and the cause. ``kind``: the model kind it trains (checked on resume)."""
    directory = Path(directory)
    tensors: dict[str, Any] = {}
    structure = _flatten("", state, tensors)
    data = _serialize(tensors)
    digest = hashlib.sha256(data).hexdigest()
    name = f"checkpoint-{digest[:16]}.safetensors"
    meta = {"format": FORMAT, "tensors": {"file": name, "size": len(data), "sha256": digest},
            "structure_sha256": _structure_digest(structure), "state": structure, "kind": kind}
    try:
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(directory / name, data)
        atomic_write_text(directory / STRUCTURE_FILE, json.dumps(meta))
    except (OSError, TextlabError) as exc:
        if _tensors_file(directory) != name:  # the previous checkpoint (if any) stays as it was
            (directory / name).unlink(missing_ok=True)
        raise TextlabError(cannot_write("the checkpoint", directory, exc.__cause__ or exc)) from exc
    for old in directory.glob("checkpoint*.safetensors"):
        if old.name != name:
            old.unlink(missing_ok=True)


def _tensors_file(directory: Path) -> str | None:
    """The tensors file the checkpoint in ``directory`` names (None: none, or unreadable)."""
    try:
        return json.loads((directory / STRUCTURE_FILE).read_text(encoding="utf-8"))["tensors"]["file"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load_checkpoint(directory: Path, framework: str = "torch", kind: str | None = None) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (no unpickling), after checking the
    recorded size and SHA-256 of its tensors and the SHA-256 of its structure. Its tensors come
    back as torch tensors, or (``framework="numpy"``) as numpy arrays, without torch. ``kind``:
    the model kind the caller trains; a checkpoint recorded as another kind's is refused by name."""
    if framework == "numpy":
        from safetensors.numpy import load_file
    else:
        from safetensors.torch import load_file

    directory = Path(directory)
    meta_path = directory / STRUCTURE_FILE
    if not meta_path.is_file():
        raise DataError(f"no checkpoint to resume from in {directory}")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"cannot read {meta_path}: {exc}") from exc
    if not isinstance(meta, dict) or "state" not in meta:
        raise DataError(f"{meta_path} is not a textlab checkpoint")
    if kind and meta.get("kind") not in (None, kind):
        raise DataError(f"{directory} is the checkpoint of a {meta['kind']} run, not of a {kind} one; resume it with "
                        "the command that started it, or write this model elsewhere with -o")
    where = f"when the checkpoint was saved; resume is not possible from {directory}"
    if meta.get("format", 1) >= 2:
        record = meta.get("tensors")
        if not isinstance(record, dict) or not isinstance(record.get("file"), str) or "/" in record["file"] \
                or meta.get("structure_sha256") != _structure_digest(meta["state"]):
            raise DataError(f"{meta_path} is damaged: its structure differs from the SHA-256 recorded {where}")
        tensors_path = directory / record["file"]
        check_file(tensors_path, record["size"], record["sha256"], where)
    else:
        tensors_path = directory / OLD_TENSORS_FILE
    try:
        tensors = load_file(str(tensors_path))
    except Exception as exc:  # corrupted or foreign files
        raise DataError(f"cannot read the checkpoint in {directory}: {exc}") from exc
    return _unflatten(meta["state"], tensors)
