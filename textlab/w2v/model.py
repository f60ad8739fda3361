"""The word2vec model: input vectors (what users query) and output ("context") weights, trained
by negative sampling. The engines (:mod:`textlab.w2v.train`) update the matrices by hand;
``forward`` gives the same loss through autograd, which the tests compare them with."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from textlab.w2v.config import ARCHS, CONFIG_LIMITS, Word2VecConfig  # noqa: F401 (re-exported)


class Word2Vec(nn.Module):
    def __init__(self, config: Word2VecConfig):
        super().__init__()
        self.config = config
        size, dim = config.vocab_size, config.dim
        generator = torch.Generator().manual_seed(config.seed)
        # word2vec C: input uniform in [-0.5/dim, 0.5/dim), output zeros
        vectors = torch.rand(size, dim, generator=generator).sub_(0.5).div_(dim)
        self.vectors = nn.Parameter(vectors, requires_grad=False)
        self.context = nn.Parameter(torch.zeros(size, dim), requires_grad=False)

    def forward(self, contexts: torch.Tensor, targets: torch.Tensor | None = None):
        """Scores of ``targets[n, 1+K]`` (positive first, then noise words; every word of the
        vocabulary when None) for the centres described by ``contexts[n, m]`` (-1 = padding).
        skip-gram scores each context word on its own (``[n, m, 1+K]``), CBOW their mean
        (``[n, 1+K]``). With ``targets`` also returns the negative-sampling loss (mean over
        pairs). Used by tests: the engines compute the same gradients by hand."""
        mask = (contexts >= 0).to(self.vectors.dtype)
        inputs = self.vectors[contexts.clamp(min=0)] * mask[..., None]
        cbow = self.config.arch == "cbow"
        if cbow:
            hidden = inputs.sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        if targets is None:
            return (hidden if cbow else inputs) @ self.context.T, None
        outputs = self.context[targets]
        if cbow:
            logits = torch.bmm(outputs, hidden[:, :, None])[:, :, 0]
            weight = (mask.sum(1) > 0).to(logits.dtype)[:, None].expand_as(logits)
        else:
            logits = torch.bmm(inputs, outputs.transpose(1, 2))
            weight = mask[..., None].expand_as(logits)
        sign = torch.full_like(logits, -1.0)
        sign[..., 0] = 1.0
        loss = -(F.logsigmoid(sign * logits) * weight).sum() / weight[..., 0].sum().clamp(min=1)
        return logits, loss
