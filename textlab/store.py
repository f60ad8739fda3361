"""The model store: where models live, how they are saved, listed, found and loaded.

A model is a directory::

    config.json          the card: kind, format version, settings, data, command line, metrics
    weights.safetensors  tensors (never pickle)
    vocab.tsv            the vocabulary, when the model has one

Saves are atomic (a temporary directory renamed into place) and never overwrite an
existing model unless ``force`` is given. Loading checks the card before any tensor is read.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from textlab import __version__
from textlab.atomic import atomic_directory, atomic_write_text
from textlab.errors import DataError, TextlabError

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
VOCAB_FILE = "vocab.tsv"
MAX_CONFIG_BYTES = 4 * 1024 * 1024
KINDS = ("word2vec", "charlm", "sentiment")

if TYPE_CHECKING:  # torch is imported lazily: listing datasets or tokenizing never needs it
    import torch


def textlab_home() -> Path:
    """``$TEXTLAB_HOME``, else ``$XDG_CACHE_HOME/textlab``, else ``~/.cache/textlab``."""
    if os.environ.get("TEXTLAB_HOME"):
        return Path(os.environ["TEXTLAB_HOME"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "textlab"


def models_dir() -> Path:
    return textlab_home() / "models"


def output_path(spec: str | None, default_name: str) -> Path:
    """``-o NAME|DIR``: a bare name goes under the store, anything path-like is used as given."""
    if not spec:
        return models_dir() / default_name
    if os.sep in spec or "/" in spec or spec.startswith(".") or spec.startswith("~"):
        return Path(spec).expanduser()
    return models_dir() / spec


@dataclass
class ModelCard:
    kind: str
    config: dict[str, Any]
    data: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    command: str = ""
    created: str = ""
    name: str = ""
    format_version: int = FORMAT_VERSION
    textlab_version: str = __version__
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, raw: Any, where: Path) -> "ModelCard":
        if not isinstance(raw, dict):
            raise DataError(f"{where}: config.json is not a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise DataError(f"{where}: config.json has unknown fields: {', '.join(unknown)}")
        for key in ("kind", "config"):
            if key not in raw:
                raise DataError(f"{where}: config.json lacks the field {key!r}")
        card = cls(**raw)
        if card.kind not in KINDS:
            raise DataError(f"{where}: unknown model kind {card.kind!r}")
        if card.format_version != FORMAT_VERSION:
            raise DataError(f"{where}: model format {card.format_version} is not supported (expected {FORMAT_VERSION})")
        if not isinstance(card.config, dict):
            raise DataError(f"{where}: 'config' in config.json must be an object")
        return card


def command_line() -> str:
    return "textlab " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def save_model(
    path: Path,
    card: ModelCard,
    tensors: dict[str, torch.Tensor],
    vocab_tsv: str | None = None,
    extra_files: dict[str, bytes] | None = None,
    force: bool = False,
) -> Path:
    """Write a model directory atomically; refuses to overwrite unless ``force``."""
    from safetensors.torch import save_file

    path = Path(path)
    card.name = card.name or path.name
    card.created = card.created or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    card.command = card.command or command_line()
    try:
        with atomic_directory(path, force=force) as tmp:
            save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp / WEIGHTS_FILE))
            if vocab_tsv is not None:
                (tmp / VOCAB_FILE).write_text(vocab_tsv, encoding="utf-8")
            for name, content in (extra_files or {}).items():
                (tmp / name).write_bytes(content)
            (tmp / CONFIG_FILE).write_text(card.to_json(), encoding="utf-8")
    except OSError as exc:
        raise TextlabError(f"cannot write the model to {path}: {exc.strerror or exc}") from exc
    return path


def read_card(path: Path) -> ModelCard:
    config_path = Path(path) / CONFIG_FILE
    if not config_path.is_file():
        raise DataError(f"{path} is not a textlab model (no {CONFIG_FILE})")
    try:
        if config_path.stat().st_size > MAX_CONFIG_BYTES:
            raise DataError(f"{config_path} is implausibly large")
        raw = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"cannot read {config_path}: {exc}") from exc
    return ModelCard.from_dict(raw, Path(path))


def update_card(path: Path, **changes: Any) -> ModelCard:
    """Rewrite fields of a saved card atomically (e.g. to add metrics)."""
    card = read_card(path)
    for key, value in changes.items():
        if key == "metrics":
            card.metrics.update(value)
        else:
            setattr(card, key, value)
    atomic_write_text(Path(path) / CONFIG_FILE, card.to_json())
    return card


def tensor_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Shapes and names of the tensors in a weights file, read from its header only."""
    from safetensors import safe_open

    weights = Path(path) / WEIGHTS_FILE
    if not weights.is_file():
        raise DataError(f"{path}: missing {WEIGHTS_FILE}")
    try:
        with safe_open(str(weights), framework="pt") as handle:
            return {name: tuple(handle.get_slice(name).get_shape()) for name in handle.keys()}
    except Exception as exc:
        raise DataError(f"{weights} is not a valid safetensors file ({exc})") from exc


def load_tensors(path: Path, expected: dict[str, tuple[int, ...]] | None = None) -> dict[str, torch.Tensor]:
    """Load weights after checking names and shapes against ``expected`` (from the config)."""
    from safetensors.torch import load_file

    shapes = tensor_shapes(path)
    if expected is not None:
        if set(shapes) != set(expected):
            raise DataError(f"{path}: weights hold {sorted(shapes)}, the config expects {sorted(expected)}")
        for name, shape in expected.items():
            if tuple(shapes[name]) != tuple(shape):
                raise DataError(f"{path}: tensor {name} has shape {shapes[name]}, the config says {tuple(shape)}")
    try:
        return load_file(str(Path(path) / WEIGHTS_FILE))
    except Exception as exc:
        raise DataError(f"cannot read the weights in {path}: {exc}") from exc


#: ``--model shipped:NAME`` names a model shipped inside the package (``textlab/pretrained/KIND/NAME``).
SHIPPED_PREFIX = "shipped:"


def shipped_root() -> Path:
    """``textlab/pretrained``: one directory per kind, one normal model directory per name
    (built by the scripts in ``scripts/``; read-only)."""
    from importlib import resources

    return Path(str(resources.files("textlab").joinpath("pretrained")))


def shipped_model(kind: str, name: str) -> Path | None:
    """The shipped model ``name`` of ``kind`` (e.g. ``("sentiment", "en")``), if the package has it."""
    path = shipped_root() / kind / name
    return path if name and "/" not in name and (path / CONFIG_FILE).is_file() else None


def shipped_models(kind: str | None = None) -> list[tuple[str, Path, ModelCard]]:
    """``(spec, path, card)`` of every shipped model (of ``kind``), e.g. ``("shipped:en", ...)``."""
    found = []
    for kind_dir in sorted(shipped_root().glob("*")):
        if kind is not None and kind_dir.name != kind:
            continue
        for path in sorted(kind_dir.glob("*")):
            if (path / CONFIG_FILE).is_file():
                found.append((SHIPPED_PREFIX + path.name, path, read_card(path)))
    return found


def list_models(root: Path | None = None) -> list[tuple[Path, ModelCard]]:
    root = root or models_dir()
    found: list[tuple[Path, ModelCard]] = []
    if not root.is_dir():
        return found
    for child in sorted(root.iterdir()):
        if child.name.startswith(".") or not child.is_dir():
            continue
        try:
            found.append((child, read_card(child)))
        except TextlabError:
            continue
    return found


def resolve_model(spec: str | None, kind: str) -> Path:
    """``--model NAME|PATH|shipped:NAME``; with none, the newest model of ``kind`` in the store."""
    if spec and spec.startswith(SHIPPED_PREFIX):
        name = spec[len(SHIPPED_PREFIX):]
        path = shipped_model(kind, name)
        if path is None:
            names = ", ".join(s for s, _, _ in shipped_models(kind)) or "none"
            raise TextlabError(f"no shipped {kind} model named {name!r} (shipped {kind} models: {names})")
        return path
    if spec:
        candidates = [Path(spec).expanduser(), models_dir() / spec]
        for candidate in candidates:
            if (candidate / CONFIG_FILE).is_file():
                card = read_card(candidate)
                if card.kind != kind:
                    raise TextlabError(f"{candidate} is a {card.kind} model, not a {kind} model")
                return candidate
            if candidate.exists() and candidate == candidates[0] and ("/" in spec or os.sep in spec):
                raise DataError(f"{candidate} is not a textlab model directory (no {CONFIG_FILE})")
        raise TextlabError(f"no model named {spec!r} (see `textlab models`)")
    models = [(p, c) for p, c in list_models() if c.kind == kind]
    if not models:
        raise TextlabError(f"no {kind} model yet: train one first or pass --model")
    models.sort(key=lambda pc: (pc[1].created, pc[0].stat().st_mtime))
    return models[-1][0]


T = TypeVar("T")


def config_from_dict(cls: type[T], raw: Any, where: str, limits: dict[str, tuple[float, float]] | None = None) -> T:
    """Build a dataclass config from JSON, refusing unknown fields, wrong types and absurd sizes
    (checked before anything is allocated)."""
    if not isinstance(raw, dict):
        raise DataError(f"{where}: the model config must be an object")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise DataError(f"{where}: unknown config fields: {', '.join(unknown)}")
    for name, value in raw.items():
        default = getattr(cls, name, None)
        if isinstance(default, bool) and not isinstance(value, bool):
            raise DataError(f"{where}: config field {name!r} must be true or false")
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise DataError(f"{where}: config field {name!r} must be a number")
        if isinstance(default, str) and not isinstance(value, str):
            raise DataError(f"{where}: config field {name!r} must be a string")
    for name, (low, high) in (limits or {}).items():
        if name in raw and not (low <= raw[name] <= high):
            raise DataError(f"{where}: config field {name!r}={raw[name]} is outside [{low}, {high}]")
    return cls(**raw)
