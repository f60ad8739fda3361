"""Characters to integers and back, the train/validation split and the batch layout for
stateful truncated BPTT.

The alphabet is every distinct character of the corpus, most frequent first (ties by code
point); it is saved in the model card so a model never needs its corpus again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from textlab.data import read_corpus_text, resolve_corpus
from textlab.errors import DataError
from textlab.lm.streams import chunk, eval_streams, make_streams  # noqa: F401  (the char LM's streams: the shared layout)

MAX_CORPUS_CHARS = 400_000_000
TEXT8_CHARS = 100_000_000
TEXT8_HELD_OUT = 10_000_000  # the standard split: last 10M chars = 5M valid + 5M test


def text_to_codepoints(text: str) -> np.ndarray:
    """Unicode code points of ``text`` as an int array, without a Python loop."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)  # a lone surrogate (from argv) is a code point too


def build_alphabet(text: str) -> list[str]:
    """Distinct characters, most frequent first, ties broken by code point."""
    codes, counts = np.unique(text_to_codepoints(text), return_counts=True)
    order = np.lexsort((codes, -counts))
    return [chr(int(c)) for c in codes[order]]


class CharCodec:
    """Maps characters to ids and back for one alphabet."""

    def __init__(self, alphabet: list[str]):
        if len(set(alphabet)) != len(alphabet) or any(len(c) != 1 for c in alphabet):
            raise DataError("the alphabet must be distinct single characters")
        self.alphabet = list(alphabet)
        self.index = {c: i for i, c in enumerate(self.alphabet)}
        codes = np.array([ord(c) for c in self.alphabet], dtype=np.uint32)
        self._sorted_order = np.argsort(codes)
        self._sorted_codes = codes[self._sorted_order]

    def __len__(self) -> int:
        return len(self.alphabet)

    def unknown(self, text: str) -> list[str]:
        """Characters of ``text`` that are not in the alphabet, in first-seen order."""
        return list(dict.fromkeys(c for c in text if c not in self.index))

    def encode(self, text: str, where: str = "the text") -> np.ndarray:
        """Ids of ``text`` (int16, or int32 for alphabets over 32,767 characters), computed in
        pieces so that a 200M-character corpus needs ~6 bytes per character, not ~26."""
        dtype = np.int32 if len(self.alphabet) > 32767 else np.int16
        ids = np.empty(len(text), dtype=dtype)
        piece = 1 << 24
        for start in range(0, len(text), piece):
            ids[start:start + piece] = self._encode_piece(text[start:start + piece], where)
        return ids

    def _encode_piece(self, text: str, where: str) -> np.ndarray:
        codes = text_to_codepoints(text)
        pos = np.searchsorted(self._sorted_codes, codes)
        pos = np.minimum(pos, len(self._sorted_codes) - 1)
        known = self._sorted_codes[pos] == codes
        if not known.all():
            missing = self.unknown(text)
            shown = " ".join(repr(c) for c in missing[:20]) + (" ..." if len(missing) > 20 else "")
            raise DataError(f"{where} has {len(missing)} character(s) outside the model's alphabet: {shown}")
        return self._sorted_order[pos]

    def decode(self, ids) -> str:
        return "".join(self.alphabet[int(i)] for i in ids)


@dataclass
class CharData:
    """A corpus encoded as ids and split for training."""

    name: str
    alphabet: list[str]
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray | None = None

    def summary(self) -> dict:
        info = {"corpus": self.name, "chars": int(len(self.train) + len(self.valid) + (0 if self.test is None else len(self.test))),
                "alphabet_size": len(self.alphabet), "train_chars": int(len(self.train)),
                "valid_chars": int(len(self.valid))}
        if self.test is not None:
            info["test_chars"] = int(len(self.test))
        return info


def is_text8(spec: str, path: Path, n_chars: int) -> bool:
    return (spec == "text8" or Path(path).name.startswith("text8")) and n_chars >= TEXT8_CHARS - 1


def load_char_data(spec: str, valid_fraction: float = 0.1, alphabet: list[str] | None = None) -> CharData:
    """Read a corpus (dataset name or path), build or reuse the alphabet and split it.

    The validation text is the last ``valid_fraction`` of the corpus; text8 uses its standard
    split instead (first 90M train, next 5M valid, last 5M test).
    """
    if not 0.0 < valid_fraction < 1.0:
        raise DataError(f"--valid-fraction must be between 0 and 1, got {valid_fraction}")
    path = resolve_corpus(spec)
    text = read_corpus_text(path, max_chars=MAX_CORPUS_CHARS)
    if is_text8(spec, path, len(text)):
        text = text[:TEXT8_CHARS]
    if len(text) < 20:
        raise DataError(f"{spec} holds only {len(text)} characters; a language model needs more text")
    alphabet = alphabet or build_alphabet(text)
    if len(alphabet) < 2:
        raise DataError(f"{spec} uses a single distinct character; there is nothing to learn")
    ids = CharCodec(alphabet).encode(text, where=str(spec))
    n_chars = len(text)
    del text
    name = spec if not Path(spec).exists() else str(Path(spec).resolve())
    if is_text8(spec, path, n_chars):
        train_end = TEXT8_CHARS - TEXT8_HELD_OUT
        half = TEXT8_HELD_OUT // 2
        return CharData(name, alphabet, ids[:train_end], ids[train_end:train_end + half], ids[train_end + half:])
    split = int(len(ids) * (1.0 - valid_fraction))
    split = min(max(split, 2), len(ids) - 2)
    return CharData(name, alphabet, ids[:split], ids[split:])


def unigram_entropy(ids: np.ndarray) -> float:
    """Entropy (nats/char) of the character frequencies: what a model with no context achieves."""
    counts = np.bincount(np.asarray(ids, dtype=np.int64)).astype(np.float64)
    probs = counts[counts > 0] / counts.sum()
    return float(-(probs * np.log(probs)).sum())
