"""The word2vec settings: one dataclass, the single source of every default (the CLI reads its
defaults from here). Kept free of torch so that importing it costs nothing."""

from __future__ import annotations

import math
from dataclasses import dataclass

ARCHS = ("skipgram", "cbow")


@dataclass
class Word2VecConfig:
    arch: str = "skipgram"
    dim: int = 100
    window: int = 5
    negative: int = 5
    min_count: int = 5
    max_vocab: int = 0  # 0 = no limit
    sample: float = 1e-3
    epochs: int = 5
    lr: float = 0.0  # 0 = by architecture: DEFAULT_LR, CBOW_LR
    min_lr: float = 0.0001
    batch_size: int = 0  # device engine: centre words per step; 0 = DEVICE_STEPS[arch]
    row_limit: float = 0.0  # device engine: cap on a row's summed update in Newton steps; 0 = DEVICE_STEPS[arch]
    compile: str = "auto"  # device engine: its step compiled into one graph or eager (step_mode; the card's metrics say which ran)
    lang: str = "auto"
    seed: int = 1
    workers: int = 0  # hogwild engine: worker threads; 0 = one per CPU core, 1 = bit-reproducible
    engine: str = "auto"  # auto | hogwild | device (see textlab.w2v.pipeline.choose_engine)
    vocab_size: int = 0


#: The initial learning rate when ``lr`` is 0: word2vec C's defaults, 0.025 for skip-gram (gensim's
#: for both architectures) and 0.05 for CBOW (fastText's too). On the 8M-word IMDb slice, 3 epochs,
#: CBOW reached 12.5% analogy at 0.025 and 15.5% at 0.05 on the hogwild engine, and 11.0% (two
#: seeds) against 14.9% on the device engine's 33k-word steps (README, word2vec engines).
DEFAULT_LR = 0.025
CBOW_LR = 0.05


def initial_lr(config: Word2VecConfig) -> float:
    """``config.lr``, or the default for its architecture when it is 0."""
    if config.lr:
        return config.lr
    return CBOW_LR if config.arch == "cbow" else DEFAULT_LR


#: The device engine's defaults per architecture: (centre words per step, row limit in Newton steps,
#: see :mod:`textlab.w2v.step`). The largest steps measured to keep gensim's quality on the 8M-word
#: IMDb slice (README, word2vec engines).
DEVICE_STEPS = {"cbow": (32768, 0.5), "skipgram": (32768, 1.0)}


def device_step(config: Word2VecConfig, kept_per_chunk: float = 0.0) -> tuple[int, float]:
    """The device engine's step size and row limit for ``config`` (its own, or the defaults).

    A step never holds more than 4 centre words per vocabulary word (at least 16): with a tiny
    vocabulary every row would otherwise get hundreds of stale updates per step and diverge
    (measured: 12 words, 256 centres per step). With ``kept_per_chunk`` (the words a chunk
    keeps after subsampling, expected) the size is fitted so that a chunk fills whole steps:
    the chunk's last step is padded to full size, so 98k kept words in steps of 32,768 would
    run 4 steps, a third of them padding, where 3 steps of 33,320 hold them."""
    size, limit = DEVICE_STEPS.get(config.arch, DEVICE_STEPS["skipgram"])
    size = config.batch_size or size
    if config.vocab_size:
        size = min(size, max(16, 4 * config.vocab_size))
    if kept_per_chunk > 0:
        steps = max(1, round(kept_per_chunk / size))
        size = math.ceil(kept_per_chunk * 1.02 / steps)  # 2%: the chunk's kept count varies around its expectation
    return size, config.row_limit or limit


#: How the device engine runs its step (``compile``): ``compiled`` (one graph; on CUDA a captured
#: CUDA graph) or ``eager``; ``auto`` picks by device and run length (:func:`step_mode`).
STEP_MODES = ("auto", "compiled", "eager")
#: ``auto`` on a CPU compiles the step for runs of at least this many words (epochs x corpus):
#: on the 2-core machine of the README (under load) compiling took 107 s and the compiled CBOW step
#: trained at 23.0k words/s against the eager step's 12.5k, so compiling pays from ~2.9M words;
#: tests and toy corpora stay eager.
COMPILE_FROM_WORDS = 3_000_000


def step_mode(config: Word2VecConfig, device, words: int = 0) -> str:
    """``config.compile``, or for ``auto``: compiled on CUDA (one graph launch per step instead of
    dozens of kernels), and on other devices when the run trains ``words`` >= COMPILE_FROM_WORDS."""
    if config.compile != "auto":
        return config.compile
    return "compiled" if device.type == "cuda" or words >= COMPILE_FROM_WORDS else "eager"


#: Bounds checked before a saved config allocates anything.
CONFIG_LIMITS = {
    "dim": (1, 10000), "window": (1, 100), "negative": (1, 100), "epochs": (1, 10000),
    "vocab_size": (1, 50_000_000), "batch_size": (0, 10_000_000), "min_count": (1, 10**12), "workers": (0, 64),
    "row_limit": (0.0, 1e6),
}
