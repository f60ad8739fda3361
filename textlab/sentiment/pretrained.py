"""The small sentiment models shipped in the package (``textlab/pretrained/sentiment/en`` and
``.../zh``, each a normal model directory, ``--model shipped:en``), used when no ``--model`` is
given and the store holds no sentiment model. ``scripts/build_shipped_sentiment.py`` builds them."""

from __future__ import annotations

from pathlib import Path

from textlab.store import list_models, resolve_model, shipped_model

SHIPPED_LANGS = ("en", "zh")


def shipped_models() -> dict[str, Path]:
    return {lang: path for lang in SHIPPED_LANGS if (path := shipped_model("sentiment", lang)) is not None}


def choose_models(spec: str | None, lang: str = "auto") -> dict[str, Path]:
    """``--model`` if given; else the newest sentiment model in the store; else the shipped
    model(s): both for ``--lang auto``, the one asked for otherwise. Keys are languages
    (``"*"`` for a single user model that takes every line)."""
    if spec or any(card.kind == "sentiment" for _, card in list_models()):
        return {"*": resolve_model(spec, "sentiment")}
    shipped = shipped_models()
    if lang in ("en", "zh") and lang in shipped:
        return {lang: shipped[lang]}
    if shipped:
        return shipped
    return {"*": resolve_model(None, "sentiment")}  # raises: no model anywhere
