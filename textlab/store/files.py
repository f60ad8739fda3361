"""A model directory's files: written atomically (a temporary directory renamed into place,
never over an existing model unless ``force``), tensors as safetensors (never pickle), the
size and SHA-256 of every file in ``checksums.json`` (written last); read back after the
checksums (:func:`textlab.integrity.verify_checksums`) and the tensors' names and shapes
(against the card) are checked."""

from __future__ import annotations

import datetime as _dt
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from textlab.atomic import atomic_directory
from textlab.errors import DataError
from textlab.integrity import CHECKSUMS_FILE, checksums_text, verify_checksums
from textlab.store.cards import CONFIG_FILE, VOCAB_FILE, WEIGHTS_FILE, ModelCard, command_line

if TYPE_CHECKING:  # torch and numpy are imported lazily: listing models or tokenizing never needs them
    import numpy as np
    import torch


def save_model(
    path: Path,
    card: ModelCard,
    tensors: dict[str, torch.Tensor] | dict[str, np.ndarray],
    vocab_tsv: str | None = None,
    extra_files: dict[str, bytes | Callable[[], bytes | None]] | None = None,
    force: bool = False,
) -> Path:
    """Write a model directory atomically; refuses to overwrite unless ``force``. ``tensors``
    are torch tensors, or numpy arrays (written without importing torch). An extra file given as
    a function is made after the weights are on disk (a curve drawn once the caller has let go of
    its matrices; None: no such file). A write the OS refuses (a full disk, a file-size limit)
    leaves the previous model as it was."""
    path = Path(path)
    card.name = card.name or path.name
    card.created = card.created or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    card.command = card.command or command_line()
    with atomic_directory(path, force=force, what="the model") as tmp:
        _save_weights(tensors, tmp / WEIGHTS_FILE)
        if vocab_tsv is not None:
            (tmp / VOCAB_FILE).write_text(vocab_tsv, encoding="utf-8")
        for name, content in (extra_files or {}).items():
            content = content() if callable(content) else content
            if content is not None:
                (tmp / name).write_bytes(content)
        (tmp / CONFIG_FILE).write_text(card.to_json(), encoding="utf-8")
        (tmp / CHECKSUMS_FILE).write_text(checksums_text(tmp), encoding="utf-8")  # last: it covers the others
    return path


def _save_weights(tensors: dict, file: Path) -> None:
    """safetensors through its numpy writer when every value is an array, else torch's."""
    import numpy as np
    from safetensors import SafetensorError

    try:
        if all(isinstance(value, np.ndarray) for value in tensors.values()):
            from safetensors.numpy import save_file

            save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(file))
            return
        from safetensors.torch import save_file

        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(file))
    except SafetensorError as exc:
        raise _os_error(exc) from exc


def _os_error(exc: Exception) -> Exception:
    """safetensors' Rust writer reports the OS's refusal (``... (os error 28)``) as a
    SafetensorError: the OSError it was, so that it reads as any other refused write."""
    found = re.search(r"\(os error (\d+)\)", str(exc))
    return OSError(int(found.group(1)), os.strerror(int(found.group(1)))) if found else exc


def tensor_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Shapes and names of the tensors in a weights file, read from its header only (through
    safetensors' numpy view: no torch import), after the model's checksums are verified."""
    from safetensors import safe_open

    verify_checksums(path)
    weights = Path(path) / WEIGHTS_FILE
    if not weights.is_file():
        raise DataError(f"{path}: missing {WEIGHTS_FILE}")
    try:
        with safe_open(str(weights), framework="numpy") as handle:
            return {name: tuple(handle.get_slice(name).get_shape()) for name in handle.keys()}
    except Exception as exc:
        raise DataError(f"{weights} is not a valid safetensors file ({exc})") from exc


def check_tensors(path: Path, expected: dict[str, tuple[int, ...]] | None) -> None:
    """Names and shapes of the weights against ``expected`` (from the card), header only."""
    shapes = tensor_shapes(path)
    if expected is None:
        return
    if set(shapes) != set(expected):
        raise DataError(f"{path}: weights hold {sorted(shapes)}, the config expects {sorted(expected)}")
    for name, shape in expected.items():
        if tuple(shapes[name]) != tuple(shape):
            raise DataError(f"{path}: tensor {name} has shape {shapes[name]}, the config says {tuple(shape)}")


def load_tensors(path: Path, expected: dict[str, tuple[int, ...]] | None = None) -> dict[str, torch.Tensor]:
    """Load weights as torch tensors after checking names and shapes against ``expected``."""
    from safetensors.torch import load_file

    check_tensors(path, expected)
    try:
        return load_file(str(Path(path) / WEIGHTS_FILE))
    except Exception as exc:
        raise DataError(f"cannot read the weights in {path}: {exc}") from exc


def load_arrays(path: Path, expected: dict[str, tuple[int, ...]] | None = None,
                names: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """Load weights as numpy arrays (no torch import: queries of word vectors are numpy work),
    after the same checks as :func:`load_tensors`; ``names``: only these tensors."""
    from safetensors import safe_open

    check_tensors(path, expected)
    try:
        with safe_open(str(Path(path) / WEIGHTS_FILE), framework="numpy") as handle:
            return {name: handle.get_tensor(name) for name in (names or tuple(handle.keys()))}
    except Exception as exc:
        raise DataError(f"cannot read the weights in {path}: {exc}") from exc
