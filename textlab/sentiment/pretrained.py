"""Which model answers: the small models shipped in the package (``textlab/pretrained/sentiment/en``
and ``.../zh``, each a normal model directory, ``--model shipped:en``; built by
``scripts/build_shipped_sentiment.py``) and the user's own models in the store.

Without ``--model``, every language gets its own model: the newest user model trained on that
language, else the shipped model of that language. Training a Chinese hotel model therefore
never changes the answers to English lines."""

from __future__ import annotations

from pathlib import Path

from textlab.errors import TextlabError
from textlab.store.cards import read_card
from textlab.store.choice import resolve_model
from textlab.store.places import age_key, list_models
from textlab.store.shipped import shipped_model

SHIPPED_LANGS = ("en", "zh")


def shipped_models() -> dict[str, Path]:
    return {lang: path for lang in SHIPPED_LANGS if (path := shipped_model("sentiment", lang)) is not None}


def model_lang(path: Path) -> str:
    """The language a sentiment model was trained on (from its card)."""
    config = read_card(path).config
    lang = config.get("lang") if isinstance(config, dict) else None
    if lang not in SHIPPED_LANGS:
        raise TextlabError(f"{path}: the card names no language the sentiment models know (en, zh)")
    return lang


def newest_user_models() -> dict[str, Path]:
    """The newest sentiment model per language in the store."""
    found: dict[str, tuple] = {}
    for path, card in list_models():
        lang = card.config.get("lang") if isinstance(card.config, dict) else None
        if card.kind != "sentiment" or lang not in SHIPPED_LANGS:
            continue
        key = age_key(path, card)
        if lang not in found or key > found[lang][0]:
            found[lang] = (key, path)
    return {lang: path for lang, (_, path) in found.items()}


def choose_models(spec: str | None, lang: str = "auto") -> dict[str, Path]:
    """Models keyed by the language they answer for. ``--model``: that model alone (lines in
    another language are still answered by it, with a warning, see ``predict.Router``).
    Otherwise per language (both for ``--lang auto``, the one asked for otherwise): the newest
    user model of that language, else the shipped one."""
    if spec:
        path = resolve_model(spec, "sentiment")
        return {model_lang(path): path}
    langs = SHIPPED_LANGS if lang == "auto" else (lang,)
    user, shipped = newest_user_models(), shipped_models()
    chosen = {l: user.get(l) or shipped[l] for l in langs if l in user or l in shipped}
    if not chosen:  # nothing for this language: the newest model of any (raises when there is none)
        path = resolve_model(None, "sentiment")
        chosen = {model_lang(path): path}
    return chosen
