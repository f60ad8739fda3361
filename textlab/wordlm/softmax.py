"""The word LM's output layer: :class:`torch.nn.AdaptiveLogSoftmaxWithLoss` (Grave et al. 2017)
with its output rows tied to the input embedding (Press & Wolf 2017; Inan et al. 2017).

The vocabulary is sorted by frequency. The head scores the shortlist (the first ``cutoffs[0]``
words) and one entry per tail cluster; a word in cluster i costs the head plus that cluster's
scores, computed at rank ``embed_dim / div_value ** (i + 1)``. Tied: the shortlist's output
rows ARE the embedding's first rows, and cluster i's output rows are its embedding rows through
a learnt ``embed_dim x rank`` map, so the one embedding matrix serves input and output (stored
once, trained by both). A 30k vocabulary then trains on a CPU at the cost of a ~2k softmax.

Each tail cluster scores only the rows whose target falls in it, so its tensors have a new size
every step. On a CPU, glibc's allocator then fragments its heap without end (a run on 16.7M
tokens grew to 5.1 GB); :class:`BucketedAdaptiveSoftmax` rounds every such selection up to one
of a few sizes, which holds the run's memory flat at the same result.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.modules.adaptive import _ASMoutput


class BucketedAdaptiveSoftmax(nn.AdaptiveLogSoftmaxWithLoss):
    """torch's adaptive softmax (same parameters, same output and loss) whose tail clusters
    score their rows padded up to a multiple of ``batch / buckets``: every tensor of a step
    then has one of at most ``buckets`` sizes per cluster, which the allocator reuses, where
    torch's own forward allocates each cluster's rows at whatever size the batch's targets
    give. Padding rows repeat row 0 and are masked out of the output (and so of the gradient)."""

    buckets = 16

    def forward(self, input_: torch.Tensor, target_: torch.Tensor):
        if target_.dim() != 1 or input_.dim() != 2 or input_.size(0) != target_.size(0):
            return super().forward(input_, target_)  # torch's checks and its one-row form
        if bool(((target_ < 0) | (target_ >= self.n_classes)).any()):
            raise RuntimeError(f"Target values should be in [0, {self.n_classes - 1}], but values in range "
                               f"[{target_.min().item()}, {target_.max().item()}] were found.")
        batch = target_.size(0)
        step = -(-batch // self.buckets)
        output = input_.new_zeros(batch)
        gather = target_.clone()  # the head entry each row reads: its word, or its cluster
        bounds = [0] + list(self.cutoffs)  # torch's cutoffs end with the vocabulary size
        for i in range(1, len(bounds) - 1):
            low, high = bounds[i], bounds[i + 1]
            rows = ((target_ >= low) & (target_ < high)).nonzero().squeeze(1)
            count = rows.numel()
            if count == 0:
                continue
            size = -(-count // step) * step
            padded = F.pad(rows, (0, size - count))
            relative = (target_.index_select(0, padded) - low).clamp_(0, high - low - 1)
            logprob = F.log_softmax(self.tail[i - 1](input_.index_select(0, padded)), dim=1)
            picked = logprob.gather(1, relative.unsqueeze(1)).squeeze(1)
            kept = torch.arange(size, device=rows.device) < count
            output = output.index_add(0, padded, torch.where(kept, picked, torch.zeros_like(picked)).to(output.dtype))
            gather.index_fill_(0, rows, self.shortlist_size + i - 1)
        head = F.log_softmax(self.head(input_), dim=1)
        output = output + head.gather(1, gather.unsqueeze(1)).squeeze(1)
        return _ASMoutput(output, (-output).mean())


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
    softmax = BucketedAdaptiveSoftmax(dim, vocab, cutoffs=list(cutoffs), div_value=div_value, head_bias=True)
    softmax.head = TiedHead(embed, cutoffs[0], len(cutoffs))
    bounds = list(cutoffs) + [vocab]
    softmax.tail = nn.ModuleList(TiedTail(embed, bounds[i], bounds[i + 1], max(1, int(dim // div_value ** (i + 1))))
                                 for i in range(len(cutoffs)))
    return softmax
