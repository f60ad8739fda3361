"""The word2vec settings: one dataclass, the single source of every default (the CLI reads its
defaults from here). Kept free of torch so that importing it costs nothing."""

from __future__ import annotations

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
    lr: float = 0.0  # 0 = by architecture: DEFAULT_LR
    min_lr: float = 0.0001
    batch_size: int = 0  # device engine: centre words per step; 0 = DEVICE_STEPS[arch]
    row_limit: float = 0.0  # device engine: cap on a row's summed update in Newton steps; 0 = DEVICE_STEPS[arch]
    lang: str = "auto"
    seed: int = 1
    workers: int = 0  # hogwild engine: worker threads; 0 = one per CPU core, 1 = bit-reproducible
    engine: str = "auto"  # auto | hogwild | device (see textlab.w2v.pipeline.choose_engine)
    vocab_size: int = 0


#: The initial learning rate when ``lr`` is 0: 0.025 (word2vec C's and gensim's), except CBOW on
#: the hogwild engine, which takes word2vec C's CBOW default 0.05 (fastText's too). On the 8M-word
#: IMDb slice, 3 epochs, CBOW reached 12.5% analogy at 0.025 and 15.5% at 0.05 (README, word2vec
#: vs gensim). The device engine keeps 0.025: its summed steps were tuned there, and at 0.05 its
#: CBOW lost to the hogwild engine on a heavy-headed Zipf corpus (mean loss 8.3 against 2.9).
DEFAULT_LR = 0.025
HOGWILD_CBOW_LR = 0.05


def initial_lr(config: Word2VecConfig, engine: str) -> float:
    """``config.lr``, or the default for its architecture and ``engine`` when it is 0."""
    if config.lr:
        return config.lr
    return HOGWILD_CBOW_LR if config.arch == "cbow" and engine == "hogwild" else DEFAULT_LR


#: The device engine's defaults per architecture: (centre words per step, row limit). The largest
#: steps that kept gensim's quality on the 8M-word IMDb slice (README, word2vec engines).
DEVICE_STEPS = {"cbow": (4096, 4.0), "skipgram": (2048, 1.5)}


def device_step(config: Word2VecConfig) -> tuple[int, float]:
    """The device engine's step size and row limit for ``config`` (its own, or the defaults).
    A step never holds more than 4 centre words per vocabulary word (at least 16): with a tiny
    vocabulary every row would otherwise get hundreds of stale updates per step and diverge
    (measured: 12 words, 256 centres per step)."""
    size, limit = DEVICE_STEPS.get(config.arch, (2048, 1.5))
    size = config.batch_size or size
    if config.vocab_size:
        size = min(size, max(16, 4 * config.vocab_size))
    return size, config.row_limit or limit


#: Bounds checked before a saved config allocates anything.
CONFIG_LIMITS = {
    "dim": (1, 10000), "window": (1, 100), "negative": (1, 100), "epochs": (1, 10000),
    "vocab_size": (1, 50_000_000), "batch_size": (0, 10_000_000), "min_count": (1, 10**12), "workers": (0, 64),
    "row_limit": (0.0, 1e6),
}
