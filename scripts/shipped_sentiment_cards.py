"""The cards of the shipped sentiment models: written with their checksums, and normalised so
that no machine-specific path remains (``scripts/build_shipped_sentiment.py``)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from shipped_sentiment_data import REPO, TARGET, normalize_command, normalize_path


def normalize_card(card: dict) -> None:
    """No machine-specific paths in a shipped card: shared data as ``../shared/data/...``, the
    temporary training and validation CSVs by name (their recipes: ``train_sources``, ``valid_part``)."""
    data = card["data"]
    data["dataset"] = build_file(data["dataset"].replace(str(REPO.parent), ".."), "train_sources")
    if data.get("valid_data"):
        data["valid_data"] = build_file(data["valid_data"], "valid_part")
    card["command"] = normalize_command(card["command"])
    for init in ("pretrained_w2v", "from_lm"):
        _normalize_paths(card["data"].get(init))


def _normalize_paths(w2v) -> None:
    if isinstance(w2v, dict):
        if "model" in w2v:
            w2v["model"] = normalize_path(w2v["model"])
        if "command" in w2v:
            w2v["command"] = normalize_path(w2v["command"])
        if "corpus" in w2v:
            w2v["corpus"] = normalize_path(w2v["corpus"])


def build_file(path: str, recipe: str) -> str:
    """A file this script wrote in its temporary directory, by name (other paths unchanged, so
    normalising is re-runnable)."""
    if not path.startswith(tempfile.gettempdir()):
        return path
    return f"{Path(path).name} (written by scripts/build_shipped_sentiment.py, see {recipe})"


def write_card(model: Path, card: dict, record: bool = False) -> None:
    """Rewrite a model's card and its checksums (which cover the card); ``record``: write them
    even for a model that had none."""
    from textlab.atomic import atomic_write_text
    from textlab.integrity import CHECKSUMS_FILE, checksums_text, refresh_checksums

    atomic_write_text(model / "config.json", json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    if record:
        atomic_write_text(model / CHECKSUMS_FILE, checksums_text(model))
    else:
        refresh_checksums(model)


def finalize_shipped() -> None:
    """Normalise the cards, checksums and file modes of the shipped models (re-runnable)."""
    for lang in ("en", "zh"):
        destination = TARGET / lang
        if not (destination / "config.json").is_file():
            continue
        card = json.loads((destination / "config.json").read_text(encoding="utf-8"))
        card["extra"].setdefault("built_by", "scripts/build_shipped_sentiment.py")
        normalize_card(card)
        write_card(destination, card, record=True)
        destination.chmod(0o755)
        for item in destination.iterdir():
            item.chmod(0o644)
