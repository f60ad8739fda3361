"""Whether a text fits a char LM's alphabet, and which char LM answers when none is named.

A model is never applied silently to text in another alphabet: characters outside it are
counted and named with the model; ``eval-charlm`` refuses a text with more than
:data:`MAX_UNKNOWN_EVAL` of them and measures a text under that limit without them (saying
so); a ``generate`` seed must be wholly inside the alphabet (the model cannot read anything
else). Without ``--model``, the newest model in the store whose alphabet covers the text
answers, else the shipped one (``shipped:shakespeare``) if it does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from textlab.errors import DataError
from textlab.store.cards import ModelCard
from textlab.store.choice import ModelChoice, choose_model

if TYPE_CHECKING:
    from textlab.charlm.data import CharCodec

KIND = "charlm"
#: eval-charlm refuses a text with a larger share of characters outside the model's alphabet.
MAX_UNKNOWN_EVAL = 0.01
SHOWN = 20  # unknown characters named in a message


def card_alphabet(card: ModelCard) -> list[str]:
    """The alphabet saved in a char LM's card (``extra.alphabet``)."""
    alphabet = card.extra.get("alphabet") if isinstance(card.extra, dict) else None
    return [c for c in alphabet if isinstance(c, str)] if isinstance(alphabet, list) else []


@dataclass(frozen=True)
class Coverage:
    """How much of a text an alphabet covers: ``unknown`` of ``total`` characters are outside
    it; ``chars`` are the first distinct ones, in the order they appear."""

    unknown: int
    total: int
    chars: tuple[str, ...]

    @property
    def share(self) -> float:
        return self.unknown / self.total if self.total else 0.0


def _scan(text: str, alphabet: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The code points of ``text`` and which of them are in ``alphabet``."""
    from textlab.charlm.data import text_to_codepoints

    codes = text_to_codepoints(text)
    return codes, np.isin(codes, np.array([ord(c) for c in alphabet], dtype=np.uint32))


def _coverage(codes: np.ndarray, known: np.ndarray) -> Coverage:
    outside = codes[~known]
    distinct = dict.fromkeys(chr(int(c)) for c in outside[: 64 * SHOWN])
    return Coverage(int(outside.size), int(codes.size), tuple(distinct)[:SHOWN])


def coverage(text: str, alphabet: Sequence[str]) -> Coverage:
    return _coverage(*_scan(text, alphabet))


def unknown_message(cover: Coverage, what: str, model: str, alphabet_size: int) -> str:
    """``held_out.txt has 45 of 10,000 characters (0.45%) outside the alphabet of shakespeare
    (65 characters): '中' '文'``."""
    shown = " ".join(repr(c) for c in cover.chars) + (" ..." if cover.unknown > len(cover.chars) else "")
    of = f" of {model}" if model else " of the model"
    return (f"{what} has {cover.unknown:,} of {cover.total:,} characters ({cover.share:.2%}) outside the alphabet"
            f"{of} ({alphabet_size:,} characters): {shown}")


def fits_text(text: str, max_unknown: float):
    """A ``choose_model`` test: the card's alphabet leaves at most ``max_unknown`` of ``text`` out."""
    def fits(path: Path, card: ModelCard) -> bool:
        alphabet = card_alphabet(card)
        return bool(alphabet) and coverage(text, alphabet).share <= max_unknown

    return fits


def choose_charlm(spec: str | Path | None, text: str = "", max_unknown: float = 0.0) -> ModelChoice:
    """``--model`` when given; else the newest model in the store whose alphabet covers
    ``text`` (up to ``max_unknown``), else ``shipped:shakespeare`` if it does, else the newest
    model in the store (the caller's check then names what it lacks)."""
    fits = fits_text(text, max_unknown) if text else None
    return choose_model(spec, KIND, fits=fits, fit_reason="whose alphabet covers the text",
                        shipped_order=("shakespeare",))


def fit_text(text: str, alphabet: Sequence[str], model: str, what: str,
             max_unknown: float = MAX_UNKNOWN_EVAL) -> tuple[str, str | None]:
    """``text`` without the characters outside ``alphabet`` and a warning naming them, or a
    :class:`DataError` when they are more than ``max_unknown`` of it."""
    codes, known = _scan(text, alphabet)
    cover = _coverage(codes, known)
    if not cover.unknown:
        return text, None
    message = unknown_message(cover, what, model, len(alphabet))
    if cover.share > max_unknown:
        raise DataError(f"{message}; more than {max_unknown:.0%}: is this text in the model's language? "
                        f"(pick another model with --model)")
    kept = codes[known]
    return kept.astype("<u4").tobytes().decode("utf-32-le", "surrogatepass"), f"{message}; measured without them"


def evaluate_on_file(spec: str | Path | None, file: str | Path, device,
                     before: Callable[[ModelChoice, str | None], None] = lambda choice, warning: None) -> dict:
    """``eval-charlm``: read the file, pick the model (named, or chosen for the file's
    alphabet), refuse or strip the characters outside its alphabet, tell ``before`` which
    model answers and what was left out (a warning, or None) before the measurement starts,
    and return ``{loss, perplexity, bpc, chars}``."""
    from textlab.charlm.evaluate import evaluate_text, read_eval_text
    from textlab.charlm.saving import load_charlm

    text = read_eval_text(file)
    choice = choose_charlm(spec, text, MAX_UNKNOWN_EVAL)
    model, codec, _card = load_charlm(choice.path, device)
    text, warning = fit_text(text, codec.alphabet, choice.name, str(file))
    if len(text) >= 2:
        before(choice, warning)
    return {**evaluate_text(model, codec, text, device, where=str(file)), "model": choice.name}


def default_seed(codec: CharCodec) -> str:
    """A newline when the alphabet has one (texts start lines), else the most frequent char."""
    return "\n" if "\n" in codec.index else codec.alphabet[0]


def check_seed(seed: str, codec: CharCodec, model: str = "") -> None:
    """Refuse a seed with characters outside the alphabet (the model cannot read them),
    naming them, their share and the model."""
    cover = coverage(seed, codec.alphabet)
    if cover.unknown:
        raise DataError(unknown_message(cover, "the seed", model, len(codec)))
