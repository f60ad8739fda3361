"""Which model answers a command: the one named (``--model NAME|PATH|shipped:NAME``), else
the store's newest that fits, else a shipped one (:func:`choose_model`); :class:`ModelChoice`
says so on stderr when the user did not name it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from textlab.errors import DataError, TextlabError
from textlab.store.cards import CONFIG_FILE, ModelCard, read_card
from textlab.store.places import is_path_like, models_dir, user_models
from textlab.store.shipped import SHIPPED_PREFIX, shipped_model, shipped_models


#: What makes a model of each kind: named when a command needs one and none exists.
MAKE_COMMANDS = {
    "word2vec": "textlab train-w2v text8",
    "charlm": "textlab train-charlm tinyshakespeare",
    "sentiment": "textlab train-sentiment imdb",
    "wordlm": "textlab train-lm reviews.txt",
}

LANGUAGE_NAMES = {"en": "English", "zh": "Chinese"}


def named_kind(spec: str | None) -> str | None:
    """The kind of the model ``--model NAME|PATH|shipped:NAME`` names (read from its card), or
    None when it names nothing a card can be read from here (the command's own lookup then says
    what is wrong)."""
    if not spec:
        return None
    if spec.startswith(SHIPPED_PREFIX):
        kinds = shipped_kinds(spec)
        return kinds[0] if kinds else None
    for candidate in (Path(spec).expanduser(), models_dir() / spec):
        if (candidate / CONFIG_FILE).is_file():
            return read_card(candidate).kind
    return None


def shipped_kinds(spec: str) -> list[str]:
    """The kinds of the shipped models named ``spec`` (``shipped:en``: sentiment and word2vec)."""
    return [card.kind for name, _, card in shipped_models() if name == spec]


def no_model_error(kind: str, make: str | None = None) -> TextlabError:
    """``no charlm model yet: train one with 'textlab train-charlm tinyshakespeare'``."""
    return TextlabError(f"no {kind} model yet: train one with '{make or MAKE_COMMANDS[kind]}'")


def resolve_model(spec: str | Path | None, kind: str) -> Path:
    """``--model NAME|PATH|shipped:NAME``; with none, the newest model of ``kind`` in the store.
    A :class:`Path` (a model already chosen) is that directory, never a store name."""
    if isinstance(spec, Path):
        return _checked_kind(spec, kind)
    if spec and spec.startswith(SHIPPED_PREFIX):
        name = spec[len(SHIPPED_PREFIX):]
        path = shipped_model(kind, name)
        if path is None:
            names = ", ".join(s for s, _, _ in shipped_models(kind)) or "none"
            others = sorted(shipped_kinds(spec))
            also = f"{spec} is a {' and a '.join(others)} model; " if others else ""
            raise TextlabError(f"no shipped {kind} model named {name!r} ({also}shipped {kind} models: {names})")
        return path
    if spec:
        candidates = [Path(spec).expanduser(), models_dir() / spec]
        if not is_path_like(spec) and all((c / CONFIG_FILE).is_file() for c in candidates) and \
                os.path.realpath(candidates[0]) != os.path.realpath(candidates[1]):
            # -o NAME writes the store: the same NAME may not quietly read another model here
            raise TextlabError(f"{spec!r} names both your model {candidates[1]} and the directory ./{spec}: "
                               f"write ./{spec} for the directory, or {candidates[1]} for the store's model")
        for candidate in candidates:
            if (candidate / CONFIG_FILE).is_file():
                return _checked_kind(candidate, kind)
            if candidate.exists() and candidate == candidates[0] and ("/" in spec or os.sep in spec):
                raise DataError(f"{candidate} is not a textlab model directory (no {CONFIG_FILE})")
        hint = f"; did you mean {SHIPPED_PREFIX}{spec}?" if shipped_model(kind, spec) else ""
        raise TextlabError(f"no model named {spec!r}{hint} (see `textlab models`)")
    models = user_models(kind)
    if not models:
        raise no_model_error(kind)
    return models[0][0]


@dataclass(frozen=True)
class ModelChoice:
    """The model a command uses, and how it was chosen. ``name`` is how a user names it
    (``NAME`` in the store, ``shipped:NAME``, or the directory given); when the choice was
    implicit, :meth:`notice` is the stderr line that says which model answers."""

    path: Path
    card: ModelCard
    name: str
    implicit: bool = False
    reason: str = ""
    language: str | None = None  # "en", "zh", ... when known

    @property
    def shipped(self) -> bool:
        return self.name.startswith(SHIPPED_PREFIX)

    def describe(self) -> str:
        """``shipped:en (word2vec, English, shipped with textlab)``."""
        details = [self.card.kind]
        language = self.language or self.card.config.get("lang")
        if language in LANGUAGE_NAMES:
            details.append(LANGUAGE_NAMES[language])
        if self.reason:
            details.append(self.reason)
        return f"{self.name} ({', '.join(details)})"

    def notice(self) -> str | None:
        return f"using {self.describe()}" if self.implicit else None


def _checked_kind(path: Path, kind: str) -> Path:
    card = read_card(path)
    if card.kind != kind:
        raise TextlabError(f"{path} is a {card.kind} model, not a {kind} model")
    return path


def explicit_choice(spec: str | Path, kind: str) -> ModelChoice:
    """``--model NAME|PATH|shipped:NAME`` as a :class:`ModelChoice`."""
    path = resolve_model(spec, kind)
    return ModelChoice(path, read_card(path), str(spec))


def choose_model(
    spec: str | Path | None,
    kind: str,
    fits: Callable[[Path, ModelCard], bool] | None = None,
    fit_reason: str = "",
    shipped_order: tuple[str, ...] = (),
    language: Callable[[Path, ModelCard], str | None] | None = None,
    make: str | None = None,
) -> ModelChoice:
    """The model a command uses: ``spec`` when given; else the newest model of ``kind`` in
    the store that ``fits`` (the text's alphabet, the query's language, ...); else the first
    shipped model that fits (``shipped_order`` names go first); else the newest model in the
    store even though it does not fit (the caller's checks then name it); else the first
    shipped model. With no model at all, the error names the command that makes one
    (``make``, default :data:`MAKE_COMMANDS`)."""
    if spec:
        return explicit_choice(spec, kind)

    def lang(path: Path, card: ModelCard) -> str | None:
        return language(path, card) if language else None

    users = user_models(kind)
    rank = {name: i for i, name in enumerate(shipped_order)}
    shipped = sorted(shipped_models(kind), key=lambda spc: (rank.get(spc[0][len(SHIPPED_PREFIX):], len(rank)), spc[0]))
    for position, (path, card) in enumerate(users):
        if fits is None or fits(path, card):
            reason = "newest in the store" + (f" {fit_reason}" if position and fit_reason else "")
            return ModelChoice(path, card, path.name, True, reason, lang(path, card))
    for name, path, card in shipped:
        if fits is None or fits(path, card):
            return ModelChoice(path, card, name, True, "shipped with textlab", lang(path, card))
    if users:
        path, card = users[0]
        return ModelChoice(path, card, path.name, True, "newest in the store", lang(path, card))
    if shipped:
        name, path, card = shipped[0]
        return ModelChoice(path, card, name, True, "shipped with textlab", lang(path, card))
    raise no_model_error(kind, make)
