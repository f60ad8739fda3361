"""The word LM's settings: the one source of every default (the CLI, the probe and the trainer
read them from here). Free of torch, so that importing it costs nothing.

The defaults come from the issue-21 measurements on the 2-core AMD EPYC (IMDb train + unlabelled
reviews, 30,000 words): a tied adaptive softmax learned faster per token than a sampled softmax
at equal time and is exact and cheap to evaluate and sample from; one 256-unit LSTM layer, 64
streams of 70 tokens, AdamW 3e-3 with 100 warm-up steps and a cosine to 5%, weight decay 0.01,
clipping 0.5; bf16 autocast trained it 1.9x faster than fp32 there (14.4k vs 7.7k tokens/s on
one thread), which ``--precision auto`` measures on each machine. The dropouts are not measured
yet. The sentiment classifier that starts from this model caps the hidden size at 256 (its
inference speed).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

#: The corpus's split and vocabulary.
VALID_FRACTION = 0.02  # the last 2% of the documents validate
VOCAB_WORDS = 30_000  # the most frequent words kept, beside <pad>, <unk> and <eos>
SPECIALS = 3  # <pad> 0, <unk> 1, <eos> 2 come first in every word LM vocabulary


@dataclass
class WordLMConfig:
    """The model: embedding -> dropout -> LSTM -> (projection to the embedding size) -> dropout
    -> adaptive softmax whose rows are the embedding's (tied)."""

    vocab_size: int = VOCAB_WORDS + SPECIALS
    lang: str = "en"  # the tokenizer it reads (textlab.text.word_model_options)
    embed_dim: int = 256
    hidden: int = 256
    layers: int = 1
    cutoffs: tuple = (2000, 10000)  # adaptive softmax clusters (clipped to the vocabulary: see clusters())
    div_value: float = 4.0  # each tail cluster's rank: embed_dim / div_value ** (i + 1)
    embed_dropout: float = 0.1
    dropout: float = 0.2  # on the LSTM's output (and between layers)

    def to_dict(self) -> dict:
        return {**asdict(self), "cutoffs": list(self.cutoffs)}

    def clusters(self) -> list[int]:
        """The cutoffs that fall inside the vocabulary (a small vocabulary has fewer clusters)."""
        return [c for c in self.cutoffs if 0 < c < self.vocab_size - 1]

    @classmethod
    def from_dict(cls, raw, where: str = "wordlm config") -> "WordLMConfig":
        from textlab.store.cards import config_from_dict

        config = config_from_dict(cls, raw, where, limits=CONFIG_LIMITS)
        config.check(where)
        return config

    def check(self, where: str = "wordlm config") -> None:
        from textlab.errors import DataError

        cutoffs = self.cutoffs
        if not isinstance(cutoffs, (list, tuple)) or not all(isinstance(c, int) and not isinstance(c, bool)
                                                             for c in cutoffs) \
                or list(cutoffs) != sorted(set(cutoffs)) or any(c < 1 for c in cutoffs):
            raise DataError(f"{where}: cutoffs must be increasing positive integers")
        self.cutoffs = tuple(cutoffs)
        if self.lang not in ("en", "zh"):
            raise DataError(f"{where}: lang must be en or zh")
        if self.div_value < 1.0:
            raise DataError(f"{where}: div_value must be at least 1")


CONFIG_LIMITS = {
    "vocab_size": (SPECIALS + 1, 5_000_000),
    "embed_dim": (1, 8192),
    "hidden": (1, 8192),
    "layers": (1, 16),
    "embed_dropout": (0.0, 0.95),
    "dropout": (0.0, 0.95),
    "div_value": (1.0, 1024.0),
}


@dataclass(frozen=True)
class Shape:
    """The probe's view of the run's shape (one candidate: the probe only picks the precision)."""

    name: str
    batch_size: int
    seq_len: int
    min_epochs: float = 0.0


@dataclass
class TrainConfig:
    """Training settings (the fields the shared loop of :mod:`textlab.lm.trainer` reads)."""

    seq_len: int = 70
    batch_size: int = 64
    epochs: int = 0  # 0 = no epoch limit (then max_minutes must be set)
    max_minutes: float = 0.0  # 0 = no time limit
    lr: float = 3e-3
    min_lr_ratio: float = 0.05  # the cosine ends at lr * min_lr_ratio
    warmup_steps: int = 100
    weight_decay: float = 0.01  # not on the embedding (the output rows too) or biases
    clip: float = 0.5
    eval_interval: int = 0  # steps between validations; 0 = about 10 per run, at most an epoch and 1000 steps apart
    eval_tokens: int = 1_000_000  # periodic validation uses at most this many validation tokens
    patience: int = 1  # epochs without a better validation before the learning rate halves
    reset_prob: float = 0.0  # chance per stream and chunk that its state starts afresh (documents end with <eos>)
    precision: str = "fp32"  # fp32 | bf16 (CPU) | fp16 (CUDA, with a gradient scaler); validation is fp32
    seed: int = 1


#: Without --epochs or --max-minutes a run trains this many epochs.
DEFAULT_EPOCHS = 1
#: Options that may change when a run is resumed; every other option must match the checkpoint.
RESUMABLE = ("epochs", "max_minutes", "device", "precision")
