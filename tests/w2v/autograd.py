"""The negative-sampling loss through autograd (torch), the reference the engines' hand-written
updates are checked against (the model itself is two numpy matrices and has no forward pass)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def negative_sampling_loss(arch: str, vectors: torch.Tensor, context: torch.Tensor, contexts: torch.Tensor,
                           targets: torch.Tensor) -> torch.Tensor:
    """Mean loss over pairs of ``targets[n, 1+K]`` (positive first, then noise words) for the
    centres described by ``contexts[n, m]`` (-1 = padding): skip-gram scores each context word
    on its own, CBOW their mean."""
    mask = (contexts >= 0).to(vectors.dtype)
    inputs = vectors[contexts.clamp(min=0)] * mask[..., None]
    outputs = context[targets]
    if arch == "cbow":
        hidden = inputs.sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        logits = torch.bmm(outputs, hidden[:, :, None])[:, :, 0]
        weight = (mask.sum(1) > 0).to(logits.dtype)[:, None].expand_as(logits)
    else:
        logits = torch.bmm(inputs, outputs.transpose(1, 2))
        weight = mask[..., None].expand_as(logits)
    sign = torch.full_like(logits, -1.0)
    sign[..., 0] = 1.0
    return -(F.logsigmoid(sign * logits) * weight).sum() / weight[..., 0].sum().clamp(min=1)
