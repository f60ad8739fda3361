"""The sentiment classifier, two parts whose logits are mixed:

- neural: word embedding -> (bi)LSTM/GRU/RNN over packed sequences -> max + mean pooling
  (``pooling="last+max+mean"``: the last output first, see :func:`last_outputs`), concatenated with the *bag*, a fastText-style mean of unigram and hashed-bigram embeddings
  (``bag_buckets``) -> dropout -> linear -> one logit;
- the *n-gram branch* (optional, :mod:`textlab.sentiment.linear`, ``ngram_branch_buckets``):
  naive-Bayes-weighted logistic regression over hashed binary word (and, for Chinese,
  character) uni/bi/trigrams of the whole review.

``logit = (m0 + m3 s) * neural + (m1 + m4 s) * ngram_branch + m2 + m5 s`` with ``s`` =
:func:`~textlab.sentiment.config.short_weight` of the text's word count (1 for a few words, ~0 for
a review): ``mix`` = (m0, m1, m2) is stored in the weights, ``short_mix`` = (m3, m4, m5) in the
card (a card without it: zeros, the one mix of every length that models saved before it had).
Both are chosen on the validation part and snippets of it after both parts are trained
(:mod:`textlab.sentiment.mix`; before that the mix is (1, 0, 0, 0, 0, 0): the neural logit
alone). Probabilities are ``sigmoid(logit / T(words))`` with the temperature of
:mod:`textlab.sentiment.calibrate`."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from textlab.sentiment.config import SentimentConfig, mix_logits
from textlab.sentiment.linear import NgramLinear

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


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
        features = len(config.pooling.split("+")) * rnn_out
        self.bag = None
        if config.bag_buckets > 0:
            self.bag = nn.EmbeddingBag(config.vocab_size + config.bag_buckets, config.bag_dim, mode="mean")
            nn.init.uniform_(self.bag.weight, -0.05, 0.05)
            features += config.bag_dim
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(features, 1)
        self.linear = None  # the n-gram branch (attribute name kept: saved weights are "linear.*")
        if config.ngram_branch_buckets > 0:
            self.linear = NgramLinear(config.ngram_branch_buckets)
            self.register_buffer("mix", torch.tensor([1.0, 0.0, 0.0]))
            self.register_buffer("short_mix", torch.zeros(3), persistent=False)  # saved in the card

    def forward(self, ids, lengths, targets=None, bag=None, ngram_branch=None, words=None):
        """ids [B, T] (0-padded), lengths [B] on the CPU (>= 1, **in descending order**, as
        :func:`textlab.sentiment.data.collate` sorts rows: packing then needs no index copy
        to the device), targets [B] in {0, 1} or None, bag = (flat ids, offsets) for the bag,
        ngram_branch = (flat ids, offsets) for the n-gram branch (None: the neural logit alone,
        as in training), words [B] = each text's word count on the logits' device (None: the
        mix of whole reviews). Returns (logits [B], loss)."""
        embedded = self.dropout(self.embedding(ids))
        # pinned lengths (collate pins them for CUDA) reach the device without a host sync
        device_lengths = lengths.to(embedded.device, non_blocking=True)
        mask = (torch.arange(ids.size(1), device=embedded.device)[None, :] < device_lengths[:, None]).unsqueeze(-1)
        packed_path = self.training or torch.is_grad_enabled() or embedded.is_cuda
        if packed_path:
            packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=True)
            outputs = [pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=ids.size(1))[0]]
        else:
            outputs = padded_rnn(self.rnn, embedded, device_lengths, mask)
        parts = [] if self.config.pooling == "max+mean" else \
            [last_outputs(outputs, device_lengths, self.config.bidirectional and packed_path)]
        parts += [torch.cat([output.masked_fill(~mask, float("-inf")).max(dim=1).values for output in outputs], -1),
                 torch.cat([output.masked_fill(~mask, 0.0).sum(dim=1) for output in outputs], -1)
                 / device_lengths.to(embedded.dtype).unsqueeze(-1)]
        if self.bag is not None:
            if bag is None:
                raise ValueError("this model has a bag of n-grams: pass bag=(flat, offsets)")
            parts.append(self.bag(bag[0], bag[1]))
        logits = self.head(self.dropout(torch.cat(parts, dim=-1))).squeeze(-1)
        if self.linear is not None and ngram_branch is not None:
            logits = self.mixed(logits, self.linear(*ngram_branch), words)
        loss = None
        if targets is not None:
            loss = F.binary_cross_entropy_with_logits(logits, targets)
        return logits, loss

    def mixed(self, neural: torch.Tensor, branch: torch.Tensor, words: torch.Tensor | None) -> torch.Tensor:
        """The mix of the two parts' logits (see the module docstring)."""
        return mix_logits(torch.cat([self.mix, self.short_mix]), neural, branch,
                          None if words is None else words.to(neural.device, torch.float32))

    def set_mix(self, mix: torch.Tensor) -> None:
        """Set the six numbers (m0..m5) of the mix."""
        self.mix.copy_(mix[:3].to(self.mix.device))
        self.short_mix.copy_(mix[3:].to(self.mix.device))

    def full_mix(self) -> torch.Tensor:
        """The six numbers (m0..m5) of the mix, on the CPU."""
        return torch.cat([self.mix, self.short_mix]).cpu()

    def neural_state(self) -> dict[str, torch.Tensor]:
        """Copies of the neural part's tensors (everything but the n-gram branch and the mix)."""
        return {k: v.detach().clone() for k, v in self.state_dict().items()
                if not k.startswith("linear.") and k != "mix"}


def last_outputs(outputs: list[torch.Tensor], lengths: torch.Tensor, side_by_side: bool) -> torch.Tensor:
    """The "last" pooling [B, directions * H]: each direction's output where it has read the
    whole sequence, i.e. the forward direction's at the last word (position ``length - 1``) and
    the backward direction's at the first word (position 0). ``outputs``: the packed path's one
    tensor with the directions side by side in word order (``side_by_side``), or
    :func:`padded_rnn`'s tensor per direction, the backward one reversed within each sequence,
    where its output at the first word sits at position ``length - 1`` too."""
    rows = torch.arange(lengths.size(0), device=lengths.device)
    last = lengths - 1
    if not side_by_side:
        return torch.cat([output[rows, last] for output in outputs], dim=-1)
    output = outputs[0]
    hidden = output.size(-1) // 2
    return torch.cat([output[rows, last, :hidden], output[:, 0, hidden:]], dim=-1)


def padded_rnn(rnn: nn.RNNBase, inputs: torch.Tensor, lengths: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
    """The last layer's outputs that ``rnn`` gives the packed sequences, one tensor per direction
    [B, T, H], computed on the padded batch instead (inference on a CPU): packed input keeps
    PyTorch's CPU recurrence off oneDNN's fused kernel, padded input runs on it. A direction
    reading forwards never sees the padding behind a sequence before its last word; the
    backward direction reads each sequence reversed in place (its padding stays at the end).
    Its last-layer outputs are returned in that reversed order, which pooling over each
    sequence does not mind; between layers they are put back in order. Positions past a
    sequence's end hold arbitrary values: the caller masks them (``mask`` [B, T, 1])."""
    steps = torch.arange(inputs.size(1), device=inputs.device)[None, :]
    flip = torch.where(mask[..., 0], lengths[:, None] - 1 - steps, steps)  # its own inverse

    def reverse(x: torch.Tensor) -> torch.Tensor:
        return x.gather(1, flip[..., None].expand(-1, -1, x.size(-1)))

    layer_input = inputs
    for layer in range(rnn.num_layers):
        outputs = [_one_direction(rnn, layer, "")(layer_input)[0]]
        if rnn.bidirectional:
            outputs.append(_one_direction(rnn, layer, "_reverse")(reverse(layer_input))[0])
        if layer + 1 < rnn.num_layers:
            layer_input = torch.cat([outputs[0], *map(reverse, outputs[1:])], dim=-1)
    return outputs


def _one_direction(rnn: nn.RNNBase, layer: int, suffix: str) -> nn.RNNBase:
    """A one-layer, one-direction module sharing ``rnn``'s weights of that layer and direction
    (cached on ``rnn``; no copy)."""
    cache = rnn.__dict__.setdefault("_textlab_directions", {})
    key = (layer, suffix)
    if key not in cache:
        width = rnn.input_size if layer == 0 else rnn.hidden_size * (2 if rnn.bidirectional else 1)
        kwargs = {"nonlinearity": rnn.nonlinearity} if isinstance(rnn, nn.RNN) else {}
        # built on the meta device: no initial weights drawn from the global RNG (a resumed run
        # builds it at another point of the random stream than the run it continues)
        single = type(rnn)(width, rnn.hidden_size, num_layers=1, bias=rnn.bias, batch_first=True, device="meta",
                           **kwargs)
        for name in single._flat_weights_names:  # weight_ih_l0 <- weight_ih_l{layer}{suffix}
            setattr(single, name, getattr(rnn, f"{name[:-1]}{layer}{suffix}"))
        cache[key] = single
    return cache[key]
