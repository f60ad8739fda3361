"""The model store: where models live, how they are saved, listed, found and loaded.

A model is a directory::

    config.json          the card: kind, format version, settings, data, command line, metrics
    weights.safetensors  tensors (never pickle)
    vocab.tsv            the vocabulary, when the model has one

Saves are atomic (a temporary directory renamed into place) and never overwrite an
existing model unless ``force`` is given. Loading checks the card before any tensor is read.

Models live in the store (``$TEXTLAB_HOME/models/NAME``) or ship inside the package
(``textlab/pretrained/KIND/NAME``, named ``shipped:NAME``). :func:`choose_model` decides which
one answers a command (see its docstring); :class:`ModelChoice` says so on stderr when the
user did not name it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import json
import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from textlab import __version__
from textlab.atomic import atomic_directory, atomic_write_text
from textlab.errors import DataError, TextlabError, UsageError

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


def newest_first(models: list[tuple[Path, ModelCard]]) -> list[tuple[Path, ModelCard]]:
    return sorted(models, key=lambda pc: (pc[1].created, pc[0].stat().st_mtime), reverse=True)


def user_models(kind: str) -> list[tuple[Path, ModelCard]]:
    """The store's models of ``kind``, newest first."""
    return newest_first([(p, c) for p, c in list_models() if c.kind == kind])


#: What makes a model of each kind: named when a command needs one and none exists.
MAKE_COMMANDS = {
    "word2vec": "textlab train-w2v text8",
    "charlm": "textlab train-charlm tinyshakespeare",
    "sentiment": "textlab train-sentiment imdb",
}

LANGUAGE_NAMES = {"en": "English", "zh": "Chinese"}


def no_model_error(kind: str, make: str | None = None) -> TextlabError:
    """``no charlm model yet: train one with 'textlab train-charlm tinyshakespeare'``."""
    return TextlabError(f"no {kind} model yet: train one with '{make or MAKE_COMMANDS[kind]}'")


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


def explicit_choice(spec: str | Path, kind: str) -> ModelChoice:
    """``--model NAME|PATH|shipped:NAME`` as a :class:`ModelChoice`."""
    path = resolve_model(str(spec), kind)
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


def model_catalogue(kind: str | None = None) -> list[ModelChoice]:
    """Every model ``textlab models`` lists: the store's (by name), then the shipped ones."""
    found = [ModelChoice(p, c, p.name) for p, c in newest_first(list_models()) if kind is None or c.kind == kind]
    found += [ModelChoice(p, c, s) for s, p, c in shipped_models(kind)]
    return found


def key_metric(card: ModelCard) -> str:
    """The figure that says most about a model, for listings: word2vec vocabulary x dimension
    (and analogy accuracy once measured), char LM validation loss and bits per character,
    sentiment validation accuracy."""
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


def remove_model(name: str) -> Path:
    """Delete the store's model ``name``; it is first renamed to a hidden name, so no half-deleted
    directory is ever listed as a model."""
    import shutil
    import tempfile

    path = store_model(name, "removed")
    trash = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".removed", dir=path.parent))
    try:
        os.replace(path, trash / name)
    except OSError as exc:
        shutil.rmtree(trash, ignore_errors=True)
        raise TextlabError(f"cannot remove {path}: {exc.strerror or exc}") from None
    shutil.rmtree(trash, ignore_errors=True)
    return path


def rename_model(old: str, new: str) -> Path:
    """Rename the store's model ``old`` to ``new`` (one atomic rename; refuses an existing ``new``)."""
    source = store_model(old, "renamed")
    _check_plain_name(new)
    if new.startswith(SHIPPED_PREFIX):
        raise UsageError(f"{new!r}: the prefix {SHIPPED_PREFIX} is reserved for shipped models")
    target = source.parent / new
    if target.exists() or target.is_symlink():
        raise TextlabError(f"{target} already exists; remove it first or pick another name")
    try:
        os.rename(source, target)
    except OSError as exc:
        raise TextlabError(f"cannot rename {source} to {new}: {exc.strerror or exc}") from None
    with contextlib.suppress(OSError, TextlabError):  # the card's name follows; the model works either way
        update_card(target, name=new)
    return target


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
