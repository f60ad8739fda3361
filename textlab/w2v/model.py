"""The word2vec model: input vectors (what users query) and output ("context") weights, two
float32 numpy matrices trained by negative sampling. The hogwild engine
(:mod:`textlab.w2v.kernels`) updates them in place; the device engine
(:mod:`textlab.w2v.engine`) trains them as torch tensors on its device. Nothing here imports
torch, so that a CPU run never loads it."""

from __future__ import annotations

import numpy as np

from textlab.w2v.config import ARCHS, CONFIG_LIMITS, Word2VecConfig  # noqa: F401 (re-exported)


class Word2Vec:
    """``vectors`` and ``context``: [vocab_size, dim] float32 arrays (word2vec C's start: input
    uniform in [-0.5/dim, 0.5/dim), output zeros), or the given ones."""

    def __init__(self, config: Word2VecConfig, vectors: np.ndarray | None = None, context: np.ndarray | None = None):
        self.config = config
        shape = (config.vocab_size, config.dim)
        self.vectors = initial_vectors(*shape, config.seed) if vectors is None else vectors
        self.context = np.zeros(shape, dtype=np.float32) if context is None else context


def initial_vectors(size: int, dim: int, seed: int) -> np.ndarray:
    """Uniform in [-0.5/dim, 0.5/dim), bit for bit the numbers of
    ``torch.rand(size, dim, generator=torch.Generator().manual_seed(seed)).sub_(0.5).div_(dim)``
    (textlab's initialisation before the model left torch; a test checks they agree): torch's
    CPU generator is the same Mersenne Twister as numpy's ``RandomState``, seeded with the seed's
    low 32 bits, and a float32 draw is the low 24 bits of one 32-bit output times 2^-24."""
    bits = np.random.RandomState(seed & 0xFFFFFFFF).randint(0, 2**32, size=(size, dim), dtype=np.uint32)
    bits &= 0xFFFFFF
    vectors = bits.astype(np.float32)
    del bits
    vectors *= np.float32(2.0**-24)
    vectors -= np.float32(0.5)
    vectors /= np.float32(dim)
    return vectors
