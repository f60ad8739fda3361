"""Where models live: the store (``$TEXTLAB_HOME/models/NAME``), where ``-o`` writes, and which
models the store holds."""

from __future__ import annotations

import os
from pathlib import Path

from textlab.errors import TextlabError, UsageError
from textlab.store.cards import ModelCard, read_card
from textlab.store.shipped import SHIPPED_PREFIX


def textlab_home() -> Path:
    """``$TEXTLAB_HOME``, else ``$XDG_CACHE_HOME/textlab``, else ``~/.cache/textlab``."""
    if os.environ.get("TEXTLAB_HOME"):
        return Path(os.environ["TEXTLAB_HOME"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "textlab"


def models_dir() -> Path:
    return textlab_home() / "models"


def home_hint(path: Path, otherwise: str = "") -> str:
    """How to choose another place when ``path``, inside ``$TEXTLAB_HOME``, cannot be written:
    ``"; set TEXTLAB_HOME to a writable directory (now ...)" + otherwise``; "" for a path
    elsewhere."""
    home = textlab_home()
    try:
        Path(os.path.abspath(path)).relative_to(os.path.abspath(home))
    except ValueError:
        return ""
    return f"; set TEXTLAB_HOME to a writable directory (now {home}){otherwise}"


def output_path(spec: str | None, default_name: str) -> Path:
    """``-o NAME|DIR``: a bare name goes under the store, anything path-like is used as given;
    an empty one (``-o "$UNSET"``) and a name with the shipped models' prefix are refused."""
    if spec is None:
        return models_dir() / default_name
    if not spec.strip():
        raise UsageError("-o '': give a model name or a path")
    check_not_shipped_name(spec)
    if is_path_like(spec):
        return Path(spec).expanduser()
    return models_dir() / spec


def is_path_like(spec: str) -> bool:
    """Whether a model name given on the command line is a path (``./m``, ``~/m``, ``a/b``,
    ``.m``), not a name in the store."""
    return os.sep in spec or "/" in spec or spec.startswith((".", "~"))


def check_not_shipped_name(name: str) -> None:
    """The prefix ``shipped:`` names the models in the package; no model of the store takes it."""
    if name.startswith(SHIPPED_PREFIX):
        raise UsageError(f"{name!r}: the prefix {SHIPPED_PREFIX} is reserved for shipped models")


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


def newest_first(models: list[tuple[Path, ModelCard]]) -> list[tuple[Path, ModelCard]]:
    return sorted(models, key=lambda pc: age_key(*pc), reverse=True)


def age_key(path: Path, card: ModelCard) -> tuple[str, float]:
    """What orders models by age (larger: newer): the card's creation time, then the directory's.
    A hand-edited card may hold anything in ``created``: such a model sorts as the oldest."""
    return (card.created if isinstance(card.created, str) else "", path.stat().st_mtime)


def user_models(kind: str) -> list[tuple[Path, ModelCard]]:
    """The store's models of ``kind``, newest first."""
    return newest_first([(p, c) for p, c in list_models() if c.kind == kind])
