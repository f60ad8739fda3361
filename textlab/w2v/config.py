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
    lr: float = 0.025
    min_lr: float = 0.0001
    batch_size: int = 16384  # device engine: centre words per step (see textlab.w2v.engine)
    lang: str = "auto"
    seed: int = 1
    workers: int = 0  # hogwild engine: worker threads; 0 = one per CPU core, 1 = bit-reproducible
    engine: str = "auto"  # auto | hogwild | device (see textlab.w2v.pipeline.choose_engine)
    vocab_size: int = 0


#: Bounds checked before a saved config allocates anything.
CONFIG_LIMITS = {
    "dim": (1, 10000), "window": (1, 100), "negative": (1, 100), "epochs": (1, 10000),
    "vocab_size": (1, 50_000_000), "batch_size": (1, 10_000_000), "min_count": (1, 10**12), "workers": (0, 64),
}
