"""The model card: ``config.json`` in a model directory (kind, format version, settings,
data, command line, metrics), read and checked before any tensor is; and the rule that turns a
card's config section into a config dataclass."""

from __future__ import annotations

import dataclasses
import json
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from textlab import __version__
from textlab.atomic import atomic_write_text
from textlab.errors import DataError
from textlab.integrity import refresh_checksums, verify_checksums

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
VOCAB_FILE = "vocab.tsv"
MAX_CONFIG_BYTES = 4 * 1024 * 1024
KINDS = ("word2vec", "charlm", "wordlm", "sentiment")


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
    """Rewrite fields of a saved card atomically (e.g. to add metrics); the model's checksums
    are verified before and recorded again after."""
    verify_checksums(path)
    card = read_card(path)
    for key, value in changes.items():
        if key == "metrics":
            card.metrics.update(value)
        else:
            setattr(card, key, value)
    atomic_write_text(Path(path) / CONFIG_FILE, card.to_json(), what="the model card")
    refresh_checksums(path)
    return card


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
