"""The n-gram branch's features and storage without torch: hashed word/character n-grams
(:func:`hashed_ngrams`), the flat (ids, offsets) form of many bags, and the int8 table's block
layout, read by training (:mod:`textlab.sentiment.linear`) and by the numpy scorer alike.

Hashing: CRC-32 of each word, combined per n-gram with a 64-bit multiplier, stable across
processes and machines."""

from __future__ import annotations

import zlib
from typing import Sequence

import numpy as np

INT8_BLOCK = 256  # weights per scale when the n-gram table is stored as int8

_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant: mixes words into an n-gram key
_ORDER_SALT = [np.uint64(0), np.uint64(0x51ED270B), np.uint64(0xA0761D64), np.uint64(0xE7037ED1),
               np.uint64(0x8EBC6AF0)]


def word_hashes(tokens: Sequence[str]) -> np.ndarray:
    return np.fromiter((zlib.crc32(t.encode("utf-8", "surrogatepass")) for t in tokens),
                       dtype=np.uint64, count=len(tokens))


#: (what the branch hashes, ``units``: see ``textlab.sentiment.config.UNITS``)
_CHAR_SALT = np.uint64(0xC2B2AE3D27D4EB4F)  # keeps character n-grams apart from word n-grams


def char_codes(tokens: Sequence[str], separator: str) -> np.ndarray:
    """Unicode code points of the tokens joined by ``separator`` ("" for Chinese, " " otherwise)."""
    text = separator.join(tokens)
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)


def _ngram_keys(units: np.ndarray, max_n: int, salt: np.uint64, buckets: int) -> list[np.ndarray]:
    keys = []
    with np.errstate(over="ignore"):
        key = np.zeros(len(units), dtype=np.uint64)
        for n in range(1, max_n + 1):
            if len(units) < n:
                break
            # key of the n-gram starting at i = key of the (n-1)-gram at i, times M, plus unit i+n-1
            key = key[: len(units) - n + 1] * _MULTIPLIER + units[n - 1:]
            keys.append((key ^ _ORDER_SALT[min(n, len(_ORDER_SALT) - 1)] ^ salt) % np.uint64(buckets))
    return keys


def hashed_ngrams(tokens: Sequence[str], buckets: int, max_n: int, max_words: int, units: str = "words",
                  char_separator: str = " ") -> np.ndarray:
    """Sorted distinct bucket ids (int64) of the 1..max_n-grams of the first ``max_words`` tokens:
    word n-grams, character n-grams (of the tokens joined by ``char_separator``) or both."""
    if buckets <= 0 or not tokens:
        return np.zeros(0, dtype=np.int64)
    tokens = tokens[:max_words]
    keys = []
    if units in ("words", "words+chars"):
        keys += _ngram_keys(word_hashes(tokens), max_n, np.uint64(0), buckets)
    if units in ("chars", "words+chars"):
        keys += _ngram_keys(char_codes(tokens, char_separator), max_n, _CHAR_SALT, buckets)
    if not keys:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.concatenate(keys)).astype(np.int64)


def int8_scales_shape(buckets: int) -> tuple[int]:
    return (-(-buckets // INT8_BLOCK),)


def dequantize_int8_array(quantized: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """The float32 table of an int8 one with one scale per block of ``INT8_BLOCK`` consecutive
    weights (numpy; :func:`textlab.sentiment.linear.dequantize_int8` is the torch twin)."""
    flat = quantized.reshape(-1).astype(np.float32)
    padded = np.pad(flat, (0, (-len(flat)) % INT8_BLOCK)).reshape(-1, INT8_BLOCK)
    return (padded * scales.astype(np.float32)[:, None]).reshape(-1)[: quantized.size].reshape(quantized.shape)


def dequantize_int8_at(quantized: np.ndarray, scales: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The float32 weights at rows ``ids`` of an int8 table of one column (the same values as
    :func:`dequantize_int8_array` there, without making the whole float32 table)."""
    return quantized[ids, 0].astype(np.float32) * scales.astype(np.float32)[ids // INT8_BLOCK]


def flat_arrays(bags: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(flat ids, offsets) as int64 host arrays."""
    sizes = np.fromiter((len(b) for b in bags), dtype=np.int64, count=len(bags))
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    flat = np.concatenate(bags).astype(np.int64) if len(bags) else np.zeros(0, dtype=np.int64)
    return flat, offsets
