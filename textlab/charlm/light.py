"""``textlab generate`` for a char LM in numpy: the seed in one pass, then one character at a
time (temperature, top-k: :func:`textlab.lm.sampling.draw_array`), carrying the state. One
character is one small matrix product per layer, which numpy does as fast as torch; what numpy
saves is torch's import (about 1 s here, 2-3 s under load or on a slow disk). The same float32
arithmetic as :class:`textlab.charlm.model.CharLM` in eval mode (tests hold the logits to it);
``--random-seed N`` seeds numpy's generator, so the same number gives the same text."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from textlab.charlm.alphabet import check_seed
from textlab.charlm.parts import read_charlm, tensor_layout
from textlab.errors import UsageError
from textlab.lm.numpy_rnn import NumpyRecurrence
from textlab.lm.sampling import check_sampling, draw_array
from textlab.store.files import load_arrays
from textlab.threads import library_threads


class LightCharLM:
    """The saved weights as float32 arrays: ``logits(ids, state) -> (logits [T, vocab], state)``."""

    def __init__(self, path: Path):
        self.card, self.config, self.codec = read_charlm(path)
        w = {name: np.asarray(a, dtype=np.float32) for name, a in
             load_arrays(path, tensor_layout(self.config)).items()}
        self.embed = w["embed.weight"]
        self.head_t = (w["embed.weight"] if self.config.tie_weights else w["head.weight"]).T.copy()
        self.head_bias = w["head.bias"]
        self.rnn = NumpyRecurrence(w, self.config.cell, self.config.layers)

    def logits(self, ids: np.ndarray, state=None):
        out, state = self.rnn(self.embed[np.asarray(ids, dtype=np.int64)][None], state)
        return out[0] @ self.head_t + self.head_bias, state


def sample_chars(model: LightCharLM, seed: str, length: int, temperature: float = 0.8, top_k: int | None = None,
                 rng: np.random.Generator | None = None) -> Iterator[str]:
    """Yield ``length`` new characters that continue ``seed``."""
    if not seed:
        raise UsageError("the seed must not be empty")
    check_sampling(temperature, top_k)
    check_seed(seed, model.codec)
    rng = rng if rng is not None else np.random.default_rng()
    with library_threads("blas"):  # one small product a character: a second BLAS thread only waits
        logits, state = model.logits(model.codec.encode(seed))  # the whole seed in one pass
        last = logits[-1]
        for _ in range(length):
            next_id = draw_array(last, temperature, top_k, rng)
            yield model.codec.alphabet[next_id]
            logits, state = model.logits(np.array([next_id]), state)
            last = logits[-1]


def generate(model: LightCharLM, seed: str, length: int = 1000, temperature: float = 0.8, top_k: int | None = None,
             rng: np.random.Generator | None = None, on_char: Callable[[str], None] | None = None) -> str:
    """The seed followed by ``length`` sampled characters (``on_char`` sees each as it comes)."""
    pieces = [seed]
    for char in sample_chars(model, seed, length, temperature, top_k, rng):
        pieces.append(char)
        if on_char is not None:
            on_char(char)
    return "".join(pieces)

