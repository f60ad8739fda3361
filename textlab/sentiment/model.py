"""The sentiment classifier, two parts whose logits are mixed:

- neural: word embedding -> (bi)LSTM/GRU/RNN over packed sequences -> max + mean pooling,
  concatenated with a fastText-style mean of unigram and hashed-bigram embeddings -> dropout ->
  linear -> one logit;
- n-gram (optional, :mod:`textlab.sentiment.linear`): naive-Bayes-weighted logistic regression
  over hashed binary word (and, for Chinese, character) uni/bi/trigrams of the whole review.

``logit = mix[0] * neural + mix[1] * ngram + mix[2]``; ``mix`` is fitted on the validation part
after both parts are trained (before that it is (1, 0, 0): the neural logit alone)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from textlab.errors import DataError
from textlab.sentiment.linear import UNITS, NgramLinear
from textlab.store import config_from_dict

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}

#: Sanity limits checked before anything is allocated (a hostile card cannot ask for 1 TB).
CONFIG_LIMITS = {
    "vocab_size": (3, 2_000_000),
    "embed_dim": (1, 4096),
    "hidden": (1, 4096),
    "layers": (1, 8),
    "dropout": (0.0, 0.95),
    "max_len": (1, 100_000),
    "head_len": (0, 100_000),
    "ngram_buckets": (0, 10_000_000),
    "ngram_dim": (1, 1024),
    "bag_max_len": (1, 1_000_000),
    "linear_buckets": (0, 1 << 26),
    "linear_max_n": (1, 4),
}


@dataclass
class SentimentConfig:
    lang: str = "en"  # en | zh: the tokenizer the model was trained with
    cell: str = "lstm"  # lstm | gru | rnn
    vocab_size: int = 30002  # words including <pad> and <unk>
    embed_dim: int = 128
    hidden: int = 128
    layers: int = 1
    bidirectional: bool = True
    dropout: float = 0.3
    max_len: int = 400  # longer reviews keep their first head_len and last max_len-head_len words
    head_len: int = 100
    ngram_buckets: int = 100_000  # hashed bigram buckets for the bag branch (0 = no bag branch)
    ngram_dim: int = 16
    bag_max_len: int = 1000  # words of a review that feed the bag branch (and the n-gram branch)
    linear_buckets: int = 0  # hashed n-gram slots of the NB-weighted linear branch (0 = none)
    linear_max_n: int = 3  # longest n-gram of the linear branch
    linear_units: str = "words"  # n-gram branch features: words | chars | words+chars

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw, where: str) -> "SentimentConfig":
        config = config_from_dict(cls, raw, where, limits=CONFIG_LIMITS)
        if config.cell not in CELLS:
            raise DataError(f"{where}: unknown cell {config.cell!r} (use lstm, gru or rnn)")
        if config.linear_units not in UNITS:
            raise DataError(f"{where}: unknown n-gram units {config.linear_units!r} (use {', '.join(UNITS)})")
        if config.lang not in ("en", "zh"):
            raise DataError(f"{where}: unknown language {config.lang!r} (use en or zh)")
        if config.head_len > config.max_len:
            raise DataError(f"{where}: head_len {config.head_len} exceeds max_len {config.max_len}")
        return config


class SentimentModel(nn.Module):
    def __init__(self, config: SentimentConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=0)
        self.rnn = CELLS[config.cell](
            config.embed_dim,
            config.hidden,
            num_layers=config.layers,
            batch_first=True,
            bidirectional=config.bidirectional,
            dropout=config.dropout if config.layers > 1 else 0.0,
        )
        rnn_out = config.hidden * (2 if config.bidirectional else 1)
        features = 2 * rnn_out
        self.bag = None
        if config.ngram_buckets > 0:
            self.bag = nn.EmbeddingBag(config.vocab_size + config.ngram_buckets, config.ngram_dim, mode="mean")
            nn.init.uniform_(self.bag.weight, -0.05, 0.05)
            features += config.ngram_dim
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(features, 1)
        self.linear = None
        if config.linear_buckets > 0:
            self.linear = NgramLinear(config.linear_buckets)
            self.register_buffer("mix", torch.tensor([1.0, 0.0, 0.0]))

    def forward(self, ids, lengths, targets=None, ngrams=None, linear=None):
        """ids [B, T] (0-padded), lengths [B] (CPU, >= 1), targets [B] in {0, 1} or None,
        ngrams = (flat ids, offsets) for the bag branch, linear = (flat ids, offsets) for the
        n-gram branch (None: the neural logit alone, as in training). Returns (logits [B], loss)."""
        embedded = self.dropout(self.embedding(ids))
        packed = pack_padded_sequence(embedded, lengths.cpu(), batch_first=True, enforce_sorted=False)
        output, _ = self.rnn(packed)
        output, _ = pad_packed_sequence(output, batch_first=True)  # [B, T', H]
        mask = (torch.arange(output.size(1), device=output.device)[None, :] < lengths.to(output.device)[:, None])
        mask = mask.unsqueeze(-1)
        max_pool = output.masked_fill(~mask, float("-inf")).max(dim=1).values
        mean_pool = output.sum(dim=1) / lengths.to(output.device, output.dtype).unsqueeze(-1)
        parts = [max_pool, mean_pool]
        if self.bag is not None:
            if ngrams is None:
                raise ValueError("this model has a bag-of-n-grams branch: pass ngrams=(flat, offsets)")
            parts.append(self.bag(ngrams[0], ngrams[1]))
        logits = self.head(self.dropout(torch.cat(parts, dim=-1))).squeeze(-1)
        if self.linear is not None and linear is not None:
            logits = self.mix[0] * logits + self.mix[1] * self.linear(*linear) + self.mix[2]
        loss = None
        if targets is not None:
            loss = F.binary_cross_entropy_with_logits(logits, targets)
        return logits, loss

    def expected_shapes(self) -> dict[str, tuple[int, ...]]:
        return {name: tuple(t.shape) for name, t in self.state_dict().items()}
