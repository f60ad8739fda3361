"""The word2vec model: input vectors (what users query) and output ("context") weights, trained
by negative sampling with hand-written SGD steps (no autograd over the full matrices)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

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
    batch_size: int = 512  # centre words per step (larger steps lose quality: stale updates)
    lang: str = "auto"
    seed: int = 1
    workers: int = 1  # Hogwild worker processes; 0 = one per CPU core (always 1 on CUDA); see README
    vocab_size: int = 0


#: Bounds checked before a saved config allocates anything.
CONFIG_LIMITS = {
    "dim": (1, 10000), "window": (1, 100), "negative": (1, 100), "epochs": (1, 10000),
    "vocab_size": (1, 50_000_000), "batch_size": (1, 10_000_000), "min_count": (1, 10**12), "workers": (0, 64),
}


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
        pairs). Used by tests; training uses :meth:`sgd_step`, which computes the same
        gradients by hand."""
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

    @torch.no_grad()
    def sgd_step(self, contexts: torch.Tensor, targets: torch.Tensor, lr: float) -> torch.Tensor:
        """One SGD step of negative sampling; returns the summed loss (a 0-d tensor)."""
        if self.config.arch == "cbow":
            return self._cbow_step(contexts, targets, lr)
        return self._skipgram_step(contexts, targets, lr)

    def _coefficients(self, logits, targets, weight, lr):
        """``lr * (label - sigmoid(score))``, zero for padding and for noise words equal to the
        positive word (word2vec skips those); plus the summed loss."""
        collide = targets[:, 1:] == targets[:, :1]
        if bool(collide.any()):
            keep = torch.ones(targets.shape, dtype=logits.dtype, device=logits.device)
            keep[:, 1:].masked_fill_(collide, 0.0)
            weight = weight * keep.view(targets.shape[0], *([1] * (logits.dim() - 2)), -1)
        signed = logits.clone()
        signed[..., 1:].neg_()  # positive: s, noise: -s; loss = -log sigmoid(signed)
        fit = torch.sigmoid(signed)
        loss = -(fit.clamp(min=1e-7).log_() * weight).sum()
        coef = fit.neg_().add_(1.0)  # 1 - sigmoid(signed): label - sigmoid(s) up to the sign
        coef[..., 1:].neg_()
        return coef.mul_(weight * lr), loss

    def _skipgram_step(self, contexts, targets, lr):
        # gensim/word2vec skip-gram: each context word's input vector predicts the centre word.
        mask = (contexts >= 0).to(self.vectors.dtype)
        rows = contexts.clamp(min=0)
        inputs = _rows(self.vectors, rows)  # [n, m, d]
        outputs = _rows(self.context, targets)  # [n, 1+K, d]
        logits = torch.bmm(inputs, outputs.transpose(1, 2))  # [n, m, 1+K]
        coef, loss = self._coefficients(logits, targets, mask[..., None], lr)
        grad_inputs = torch.bmm(coef, outputs)
        grad_outputs = torch.bmm(coef.transpose(1, 2), inputs)
        self.vectors.index_add_(0, rows.flatten(), grad_inputs.flatten(0, 1))
        self.context.index_add_(0, targets.flatten(), grad_outputs.flatten(0, 1))
        return loss

    def _cbow_step(self, contexts, targets, lr):
        valid = contexts >= 0
        owner, slot = valid.nonzero(as_tuple=True)  # (centre, context) pairs without padding
        rows = contexts[owner, slot]
        count = valid.sum(1, keepdim=True).to(self.vectors.dtype)
        hidden = torch.zeros(contexts.shape[0], self.config.dim, dtype=self.vectors.dtype, device=self.vectors.device)
        hidden.index_add_(0, owner, self.vectors.index_select(0, rows))
        hidden /= count.clamp(min=1)  # cbow_mean=1
        outputs = _rows(self.context, targets)
        logits = torch.bmm(outputs, hidden[:, :, None])[:, :, 0]  # [n, 1+K]
        coef, loss = self._coefficients(logits, targets, (count > 0).to(logits.dtype), lr)
        grad_hidden = torch.bmm(coef[:, None, :], outputs)[:, 0]  # added to every context word, undivided
        grad_outputs = coef[:, :, None] * hidden[:, None, :]
        self.vectors.index_add_(0, rows, grad_hidden.index_select(0, owner))
        self.context.index_add_(0, targets.flatten(), grad_outputs.flatten(0, 1))
        return loss


def _rows(matrix: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """``matrix[ids]`` through ``index_select`` (several times faster than fancy indexing on CPU)."""
    return matrix.index_select(0, ids.flatten()).view(*ids.shape, matrix.shape[1])
