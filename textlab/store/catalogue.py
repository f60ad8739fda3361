"""The models ``textlab models`` lists (the store's and the shipped ones) with the figure that
says most about each, and the store's remove and rename."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Callable

from textlab.errors import TextlabError, UsageError
from textlab.store.cards import CONFIG_FILE, ModelCard, update_card
from textlab.store.choice import ModelChoice
from textlab.store.places import check_not_shipped_name, list_models, models_dir, newest_first
from textlab.store.shipped import SHIPPED_PREFIX, shipped_models


def model_catalogue(kind: str | None = None) -> list[ModelChoice]:
    """Every model ``textlab models`` lists: the store's (by name), then the shipped ones."""
    found = [ModelChoice(p, c, p.name) for p, c in newest_first(list_models()) if kind is None or c.kind == kind]
    found += [ModelChoice(p, c, s) for s, p, c in shipped_models(kind)]
    return found


def key_metric(card: ModelCard) -> str:
    """The figure that says most about a model, for listings: word2vec vocabulary x dimension
    (and analogy accuracy once measured), char LM validation loss and bits per character, word LM
    validation perplexity beside its unigram baseline's, sentiment validation accuracy."""
    metrics, config = card.metrics or {}, card.config or {}

    def number(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    parts = []
    if card.kind == "word2vec":
        words, dim = config.get("vocab_size") or card.data.get("vocab_size"), config.get("dim")
        if number(words) and number(dim):
            parts.append(f"{int(words):,} words x {int(dim)}")
        if number(metrics.get("analogy_accuracy")):
            parts.append(f"analogy {metrics['analogy_accuracy']:.1%}")
    elif card.kind == "charlm":
        if number(metrics.get("val_loss")):
            parts.append(f"val loss {metrics['val_loss']:.3f}")
        if number(metrics.get("val_bpc")):
            parts.append(f"{metrics['val_bpc']:.3f} bpc")
    elif card.kind == "wordlm":
        if number(metrics.get("val_perplexity")):
            parts.append(f"val ppl {metrics['val_perplexity']:.1f}")
        if number(metrics.get("val_unigram_perplexity")):
            parts.append(f"unigram {metrics['val_unigram_perplexity']:.0f}")
    elif card.kind == "sentiment":
        if number(metrics.get("valid_accuracy")):
            parts.append(f"valid acc {metrics['valid_accuracy']:.1%}")
    return ", ".join(parts) or "-"


def store_model(name: str, what: str) -> Path:
    """The store's model called ``name`` (a plain name, not a path or a shipped model)."""
    if name.startswith(SHIPPED_PREFIX):
        raise TextlabError(f"{name} is shipped with textlab; it cannot be {what}")
    _check_plain_name(name)
    path = models_dir() / name
    if not (path / CONFIG_FILE).is_file():
        raise TextlabError(f"no model named {name!r} in {models_dir()} (see `textlab models`)")
    return path


def _check_plain_name(name: str) -> None:
    if not name or name in (".", "..") or name.startswith(".") or "/" in name or os.sep in name:
        raise UsageError(f"{name!r} is not a model name (a plain name, as `textlab models` lists it)")


def _unchecked(path: Path) -> None:
    pass


def remove_model(name: str, check: Callable[[Path], None] = _unchecked) -> Path:
    """Delete the store's model ``name``; it is first renamed to a hidden name, so no half-deleted
    directory is ever listed as a model. ``check(path)`` may refuse first (a name a running job
    has reserved: :func:`textlab.reservation.check_not_reserved`)."""
    import shutil
    import tempfile

    path = store_model(name, "removed")
    check(path)
    trash = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".removed", dir=path.parent))
    try:
        os.replace(path, trash / name)
    except OSError as exc:
        shutil.rmtree(trash, ignore_errors=True)
        raise TextlabError(f"cannot remove {path}: {exc.strerror or exc}") from None
    shutil.rmtree(trash, ignore_errors=True)
    return path


def rename_model(old: str, new: str, check: Callable[[Path], None] = _unchecked) -> Path:
    """Rename the store's model ``old`` to ``new`` (one atomic rename; refuses an existing ``new``;
    ``check`` as :func:`remove_model`'s, for both names)."""
    source = store_model(old, "renamed")
    _check_plain_name(new)
    check_not_shipped_name(new)
    target = source.parent / new
    check(source)
    check(target)
    if target.exists() or target.is_symlink():
        raise TextlabError(f"{target} already exists; remove it first or pick another name")
    try:
        os.rename(source, target)
    except OSError as exc:
        raise TextlabError(f"cannot rename {source} to {new}: {exc.strerror or exc}") from None
    with contextlib.suppress(OSError, TextlabError):  # the card's name follows; the model works either way
        update_card(target, name=new)
    return target
