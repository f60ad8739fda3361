"""The sentiment model's config and the training settings: plain dataclasses whose defaults are
the single source of ``train-sentiment``'s defaults (the CLI and its ``--help`` read them; this
module imports no torch, so the CLI starts fast)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from textlab.errors import DataError
from textlab.store.cards import config_from_dict

CELLS = ("lstm", "gru", "rnn")
LANGS = ("en", "zh")
SPECIALS = 2  # <pad> and <unk> come first in every sentiment vocabulary

#: Sanity limits checked before anything is allocated (a hostile card cannot ask for 1 TB).
CONFIG_LIMITS = {
    "vocab_size": (3, 2_000_000),
    "embed_dim": (1, 4096),
    "hidden": (1, 4096),
    "layers": (1, 8),
    "dropout": (0.0, 0.95),
    "max_len": (1, 100_000),
    "head_len": (0, 100_000),
    "bag_buckets": (0, 10_000_000),
    "bag_dim": (1, 1024),
    "bag_max_len": (1, 1_000_000),
    "ngram_branch_buckets": (0, 1 << 26),
    "ngram_branch_max_n": (1, 4),
}

#: Config fields under the names that cards written before the rename use (still read).
OLD_FIELD_NAMES = {
    "ngram_buckets": "bag_buckets",
    "ngram_dim": "bag_dim",
    "linear_buckets": "ngram_branch_buckets",
    "linear_max_n": "ngram_branch_max_n",
    "linear_units": "ngram_branch_units",
}


#: What the n-gram branch hashes: word n-grams, character n-grams, or both.
UNITS = ("words", "chars", "words+chars")

#: How the recurrent outputs become features: max and mean over the words ("max+mean": every
#: card written before the field existed means this), or the last output beside them
#: ("last+max+mean", ULMFiT's concat pooling; "last" is the forward direction's output at the
#: last word and, for a bidirectional model, the backward direction's output at the first word).
POOLINGS = ("max+mean", "last+max+mean")

#: What ``--from-lm`` sets unless the option is given (model fields and training settings).
#: Measured on IMDb in the issue-21 research (scratch/lm/RESULTS.md, 2-core AMD EPYC): concat
#: pooling with the LM-initialised LSTM; the research classifier's dropouts were head 0.3, locked
#: input 0.25, locked output 0.2, embedding rows 0.05: this model has one dropout (on the embedded
#: words and before the head), set to the head's 0.3; sentence crops 0.5 lifted the first/last
#: sentence views by ~4 points with the full-review validation unharmed (0.9196 -> 0.9216).
FROM_LM_DEFAULTS = {"pooling": "last+max+mean", "dropout": 0.3, "sentence_crops": 0.5}
#: What a language model fixes in the classifier (its shape; taken from the LM's card).
FROM_LM_SHAPE = ("cell", "bidirectional", "embed_dim", "hidden", "layers", "vocab_size")


#: Texts up to this many words count as short for the mix: its short-text terms are weighed by
#: :func:`short_weight`. Why: the n-gram branch's logits shrink on a sentence far more than the
#: neural part's (shipped English model, validation: mean |logit| 0.55 vs 1.92 on first
#: sentences, 3.37 vs 3.74 on whole reviews), so one mix fitted on whole reviews lets the
#: neural part decide nearly alone on the short texts where the branch is as good.
SHORT_WORDS = 8.0


def short_weight(words):
    """``min(1, SHORT_WORDS / words)`` for token counts ``words`` (a numpy array or a tensor on
    any device): 1 up to 8 words, 0.5 at 16, 0.08 at 100."""
    if hasattr(words, "clamp_min"):  # a tensor (this module imports no torch)
        return (SHORT_WORDS / words.clamp_min(1.0)).clamp_max(1.0)
    import numpy as np

    return np.minimum(1.0, SHORT_WORDS / np.maximum(np.asarray(words, dtype=np.float64), 1.0))


def mix_logits(mix, neural, branch, words=None):
    """The classifier's logit from its parts' (:mod:`textlab.sentiment.model`):
    ``(m0 + m3 s) * neural + (m1 + m4 s) * branch + m2 + m5 s``, ``s`` = :func:`short_weight` of
    the word counts (None: s = 0, the mix of whole reviews). ``mix``: the six numbers (m0..m5);
    numpy arrays or tensors alike (on a device the mix stays there: no host synchronisation)."""
    if words is None:
        return mix[0] * neural + mix[1] * branch + mix[2]
    s = short_weight(words)
    return (mix[0] + mix[3] * s) * neural + (mix[1] + mix[4] * s) * branch + mix[2] + mix[5] * s


def head_len_for(max_len: int) -> int:
    """The words a review longer than ``max_len`` keeps from its start (the rest from its end):
    a quarter, as ``train-sentiment --max-len`` sets it."""
    return max_len // 4


@dataclass
class SentimentConfig:
    """The model's shape. These defaults are ``train-sentiment``'s defaults (the CLI reads them)."""

    lang: str = "auto"  # en | zh: the tokenizer (auto: chosen from the training texts' script)
    cell: str = "lstm"  # lstm | gru | rnn
    vocab_size: int = 30_000 + SPECIALS  # entries including <pad> and <unk> (--vocab-size counts words)
    embed_dim: int = 128
    hidden: int = 128  # units per direction
    layers: int = 1
    bidirectional: bool = True
    dropout: float = 0.4
    max_len: int = 400  # longer reviews keep their first head_len and last max_len-head_len words
    head_len: int = 100  # the CLI uses head_len_for(max_len)
    bag_buckets: int = 100_000  # hashed bigram slots of the bag (0 = no bag)
    bag_dim: int = 16
    bag_max_len: int = 1000  # words of a review that feed the bag (and the n-gram branch)
    ngram_branch_buckets: int = 1 << 21  # hashed n-gram slots of the n-gram branch (0 = no branch)
    ngram_branch_max_n: int = 3  # longest n-gram of the n-gram branch
    ngram_branch_units: str = "auto"  # words | chars | words+chars (auto: words for en, words+chars for zh)
    pooling: str = "max+mean"  # max+mean | last+max+mean (see POOLINGS)

    def to_dict(self) -> dict:
        return asdict(self)

    def resolved(self, lang: str) -> "SentimentConfig":
        """This config with ``auto`` settled for training texts in ``lang``."""
        lang = self.lang if self.lang != "auto" else lang
        units = self.ngram_branch_units if self.ngram_branch_units != "auto" else default_units(lang)
        return SentimentConfig(**{**asdict(self), "lang": lang, "ngram_branch_units": units})

    @classmethod
    def from_dict(cls, raw, where: str) -> "SentimentConfig":
        """A saved model's config (field names of either spelling, see :data:`OLD_FIELD_NAMES`)."""
        if isinstance(raw, dict):
            raw = rename_old_fields(raw, where)
        config = config_from_dict(cls, raw, where, limits=CONFIG_LIMITS)
        if config.cell not in CELLS:
            raise DataError(f"{where}: unknown cell {config.cell!r} (use lstm, gru or rnn)")
        if config.ngram_branch_units not in UNITS:
            raise DataError(f"{where}: unknown n-gram units {config.ngram_branch_units!r} (use {', '.join(UNITS)})")
        if config.pooling not in POOLINGS:
            raise DataError(f"{where}: unknown pooling {config.pooling!r} (use {' or '.join(POOLINGS)})")
        if config.lang not in LANGS:
            raise DataError(f"{where}: unknown language {config.lang!r} (use en or zh)")
        if config.head_len > config.max_len:
            raise DataError(f"{where}: head_len {config.head_len} exceeds max_len {config.max_len}")
        return config


def rename_old_fields(raw: dict, where: str) -> dict:
    renamed = dict(raw)
    for old, new in OLD_FIELD_NAMES.items():
        if old in renamed:
            value = renamed.pop(old)
            if new in renamed and renamed[new] != value:
                raise DataError(f"{where}: config fields {old!r} and {new!r} (the same field) disagree")
            renamed[new] = value
    return renamed


def default_units(lang: str) -> str:
    """Word n-grams for English; words and characters for Chinese (segmentation errs)."""
    return "words+chars" if lang == "zh" else "words"


def config_defaults() -> dict:
    """Field name -> default (what ``train-sentiment --help`` shows)."""
    return {f.name: f.default for f in fields(SentimentConfig)}


@dataclass
class TrainSettings:
    """How to train. These defaults are ``train-sentiment``'s defaults (the CLI reads them)."""

    epochs: int = 5  # bounds every part: the neural part, and the n-gram branch per rate
    batch_size: int = 64
    learning_rate: float = 2e-3
    bag_lr_scale: float = 5.0  # the bag's table learns faster (fastText uses a high rate)
    warmup_steps: int = 100
    grad_clip: float = 1.0
    valid_fraction: float = 0.1
    valid_data: str | None = None  # a labelled set to validate on instead of holding out valid_fraction
    max_minutes: float | None = None  # bounds the whole job
    seed: int = 1
    device: str = "auto"
    sentence_crops: float = 0.0  # extra training examples per epoch, as a share of the training
    # reviews: crops of 1-3 consecutive sentences of a training review, labelled by it (0 = none;
    # 0.5 cost the shipped English recipe full-review validation (README, Short inputs), and it
    # costs that share of neural time and a tokenization pass)
    threads: int = 0  # CPU threads of the neural part (restored afterwards); 0 = measured: every core
    # or one, whichever steps faster, timed again now and then (textlab.threads.ThreadTuner: two
    # OpenMP threads stall when another job shares the cores). Reading, the n-gram branch, the mix
    # and the calibration run on one thread; 0 there means one. TEXTLAB_THREADS fixes the count.
