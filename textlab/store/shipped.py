"""Models shipped inside the package (``textlab/pretrained/KIND/NAME``, named ``shipped:NAME``)."""

from __future__ import annotations

from pathlib import Path

from textlab.store.cards import CONFIG_FILE, ModelCard, read_card

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
