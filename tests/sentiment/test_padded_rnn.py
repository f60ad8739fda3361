"""Inference on a CPU runs the recurrent layers on the padded batch (oneDNN's fused kernel),
one direction at a time; the outputs inside every sequence must be those of the packed
computation that training uses (the backward direction's last layer in reversed order)."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from textlab.sentiment.config import SentimentConfig
from textlab.sentiment.model import SentimentModel, padded_rnn


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("bidirectional, layers", [(True, 1), (True, 2), (False, 2)])
def test_padded_outputs_equal_packed_ones_inside_each_sequence(cell, bidirectional, layers):
    torch.manual_seed(0)
    rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell](
        6, 5, num_layers=layers, batch_first=True, bidirectional=bidirectional).eval()
    lengths = torch.tensor([9, 7, 7, 3, 1])
    inputs = torch.randn(5, 9, 6)
    mask = (torch.arange(9)[None, :] < lengths[:, None]).unsqueeze(-1)
    with torch.no_grad():
        packed, _ = rnn(pack_padded_sequence(inputs, lengths, batch_first=True))
        expected, _ = pad_packed_sequence(packed, batch_first=True)
        outputs = padded_rnn(rnn, inputs, lengths, mask)
    assert len(outputs) == (2 if bidirectional else 1)
    forward = outputs[0]
    assert torch.allclose(forward * mask, expected[..., :5], atol=1e-5)
    if bidirectional:  # the backward direction comes back reversed within each sequence
        steps = torch.arange(9)[None, :]
        flip = torch.where(mask[..., 0], lengths[:, None] - 1 - steps, steps)
        backward = outputs[1].gather(1, flip[..., None].expand(-1, -1, 5))
        assert torch.allclose(backward * mask, expected[..., 5:], atol=1e-5)


def test_the_model_scores_alike_with_and_without_gradients():
    torch.manual_seed(0)
    model = SentimentModel(SentimentConfig(vocab_size=50, embed_dim=8, hidden=6, bag_buckets=0,
                                           ngram_branch_buckets=0)).eval()
    ids = torch.randint(2, 50, (4, 12))
    lengths = torch.tensor([12, 10, 4, 2])
    ids[torch.arange(12)[None, :] >= lengths[:, None]] = 0
    with torch.no_grad():
        inference, _ = model(ids, lengths)  # padded, one direction at a time
    with torch.enable_grad():
        training_path, _ = model(ids, lengths)  # packed, as in training
    assert torch.allclose(inference, training_path.detach(), atol=1e-5)


@pytest.mark.parametrize("bidirectional, layers", [(False, 1), (True, 1), (True, 2)])
def test_concat_pooling_scores_alike_on_both_paths(bidirectional, layers):
    # "last": the forward direction's output at the last word, the backward one's at the first
    # (the packed path reads them side by side in word order, padded_rnn's backward one reversed)
    torch.manual_seed(0)
    model = SentimentModel(SentimentConfig(vocab_size=50, embed_dim=8, hidden=6, bag_buckets=0, layers=layers,
                                           bidirectional=bidirectional, ngram_branch_buckets=0,
                                           pooling="last+max+mean")).eval()
    assert model.head.in_features == 3 * 6 * (2 if bidirectional else 1)
    ids = torch.randint(2, 50, (4, 12))
    lengths = torch.tensor([12, 10, 4, 1])
    ids[torch.arange(12)[None, :] >= lengths[:, None]] = 0
    with torch.no_grad():
        inference, _ = model(ids, lengths)
    with torch.enable_grad():
        training_path, _ = model(ids, lengths)
    assert torch.allclose(inference, training_path.detach(), atol=1e-5)
    # and "last" is what a packed run's final states are
    with torch.no_grad():
        packed = pack_padded_sequence(model.embedding(ids), lengths, batch_first=True)
        _, (h, _) = model.rnn(packed)
        outputs = [pad_packed_sequence(model.rnn(packed)[0], batch_first=True)[0]]
        from textlab.sentiment.model import last_outputs

        last = last_outputs(outputs, lengths, bidirectional)
    final = torch.cat([h[-2], h[-1]], -1) if bidirectional else h[-1]
    assert torch.allclose(last, final, atol=1e-6)
