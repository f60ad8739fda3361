"""The word LM's output layer: :class:`torch.nn.AdaptiveLogSoftmaxWithLoss` (Grave et al. 2017)
with its output rows tied to the input embedding (Press & Wolf 2017; Inan et al. 2017).

The vocabulary is sorted by frequency. The head scores the shortlist (the first ``cutoffs[0]``
words) and one entry per tail cluster; a word in cluster i costs the head plus that cluster's
scores, computed at rank ``embed_dim / div_value ** (i + 1)``. Tied: the shortlist's output
rows ARE the embedding's first rows, and cluster i's output rows are its embedding rows through
a learnt ``embed_dim x rank`` map, so the one embedding matrix serves input and output (stored
once, trained by both). A 30k vocabulary then trains on a CPU at the cost of a ~2k softmax.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class TiedHead(nn.Module):
    """The head: shortlist rows from the embedding, one own row (and bias) per cluster."""

    def __init__(self, embed: nn.Embedding, shortlist: int, n_clusters: int):
        super().__init__()
        self.tied, self.shortlist = [embed], shortlist  # a list: the embedding is not registered twice
        self.cluster = nn.Parameter(torch.randn(n_clusters, embed.embedding_dim) * 0.02)
        self.bias = nn.Parameter(torch.zeros(shortlist + n_clusters))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = torch.cat([self.tied[0].weight[: self.shortlist], self.cluster])
        return F.linear(x, weight, self.bias)


class TiedTail(nn.Module):
    """One tail cluster: logits = (x P) (E[lo:hi] Q)^T + b at rank ``rank`` (torch's tail shape,
    the rows tied to the embedding)."""

    def __init__(self, embed: nn.Embedding, lo: int, hi: int, rank: int):
        super().__init__()
        self.tied, self.lo, self.hi = [embed], lo, hi
        dim = embed.embedding_dim
        self.proj = nn.Linear(dim, rank, bias=False)
        self.q = nn.Parameter(torch.randn(dim, rank) / math.sqrt(dim))
        self.bias = nn.Parameter(torch.zeros(hi - lo))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = self.tied[0].weight[self.lo: self.hi] @ self.q  # once per call: small next to the batch
        return F.linear(self.proj(x), rows, self.bias)


def tied_adaptive_softmax(embed: nn.Embedding, cutoffs: list[int], div_value: float) -> nn.AdaptiveLogSoftmaxWithLoss:
    """torch's adaptive softmax over ``embed``'s vocabulary with its head and tails tied to it."""
    vocab, dim = embed.num_embeddings, embed.embedding_dim
    softmax = nn.AdaptiveLogSoftmaxWithLoss(dim, vocab, cutoffs=list(cutoffs), div_value=div_value, head_bias=True)
    softmax.head = TiedHead(embed, cutoffs[0], len(cutoffs))
    bounds = list(cutoffs) + [vocab]
    softmax.tail = nn.ModuleList(TiedTail(embed, bounds[i], bounds[i + 1], max(1, int(dim // div_value ** (i + 1))))
                                 for i in range(len(cutoffs)))
    return softmax
