"""The bucketed adaptive softmax: torch's output, loss and gradients, at a few fixed sizes per
cluster (the word LM's memory stays flat; a run whose tensors took every size grew to 5 GB)."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from textlab.wordlm.softmax import BucketedAdaptiveSoftmax


def _pair(vocab=600, dim=16, cutoffs=(40, 200)):
    torch.manual_seed(0)
    ours = BucketedAdaptiveSoftmax(dim, vocab, cutoffs=list(cutoffs), div_value=2.0, head_bias=True)
    theirs = nn.AdaptiveLogSoftmaxWithLoss(dim, vocab, cutoffs=list(cutoffs), div_value=2.0, head_bias=True)
    theirs.load_state_dict(ours.state_dict())
    return ours, theirs


def _zipf_targets(n, vocab, generator):
    ranks = torch.distributions.Pareto(1.0, 1.0).sample((n,)).long() - 1
    return ranks.clamp_(0, vocab - 1)[torch.randperm(n, generator=generator)]


@pytest.mark.parametrize("rows", [1, 7, 300])
def test_output_loss_and_gradients_are_torchs(rows):
    ours, theirs = _pair()
    generator = torch.Generator().manual_seed(rows)
    x = torch.randn(rows, 16, generator=generator)
    target = _zipf_targets(rows, 600, generator)
    target[0] = 599  # a row in the last cluster whatever the draw
    x_ours, x_theirs = x.clone().requires_grad_(), x.clone().requires_grad_()
    a, b = ours(x_ours, target), theirs(x_theirs, target)
    torch.testing.assert_close(a.output, b.output, rtol=0, atol=1e-6)
    torch.testing.assert_close(a.loss, b.loss, rtol=0, atol=1e-6)
    a.loss.backward()
    b.loss.backward()
    torch.testing.assert_close(x_ours.grad, x_theirs.grad, rtol=0, atol=1e-7)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        torch.testing.assert_close(p.grad if p.grad is not None else torch.zeros_like(p),
                                   q.grad if q.grad is not None else torch.zeros_like(q), rtol=0, atol=1e-7, msg=name)


def test_tail_clusters_see_a_few_fixed_sizes_whatever_the_targets():
    ours, _ = _pair()
    seen = [set(), set()]
    for i, tail in enumerate(ours.tail):
        tail.register_forward_hook(lambda module, args, out, i=i: seen[i].add(args[0].shape[0]))
    generator = torch.Generator().manual_seed(1)
    for _ in range(200):  # batches with any mix of the clusters
        top = int(torch.randint(41, 601, (), generator=generator))
        ours(torch.randn(640, 16), torch.randint(0, top, (640,), generator=generator))
    for sizes in seen:
        assert 3 <= len(sizes) <= ours.buckets  # torch's forward: one size per distinct count (dozens here)
        assert all(size % 40 == 0 for size in sizes)  # multiples of 640 / 16


def test_targets_outside_the_vocabulary_are_refused_like_torchs():
    ours, _ = _pair()
    with pytest.raises(RuntimeError, match="Target values should be in"):
        ours(torch.randn(3, 16), torch.tensor([1, 600, 2]))
