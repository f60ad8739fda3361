"""The word-level recurrent language model: embedding -> dropout -> LSTM -> (projection to the
embedding size when the hidden size differs) -> dropout -> tied adaptive softmax
(:mod:`textlab.wordlm.softmax`).

``forward(idx, targets=None, state=None) -> (features, mean loss, state)`` and
``summed_loss(idx, targets, state)``: the protocol of the shared loop and measurement
(:mod:`textlab.lm`). The adaptive softmax picks each cluster's rows by their targets, which
reads sizes on the host: on a GPU every step waits for it once per cluster.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from textlab.wordlm.config import WordLMConfig
from textlab.wordlm.softmax import tied_adaptive_softmax


class WordLM(nn.Module):
    def __init__(self, config: WordLMConfig):
        super().__init__()
        config.check()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.embed_dim)
        nn.init.normal_(self.embed.weight, std=0.05)  # small: it is the output layer too
        self.embed_drop = nn.Dropout(config.embed_dropout)
        self.rnn = nn.LSTM(config.embed_dim, config.hidden, num_layers=config.layers, batch_first=True,
                           dropout=config.dropout if config.layers > 1 else 0.0)
        with torch.no_grad():  # forget-gate bias 1: remember by default
            for name, param in self.rnn.named_parameters():
                if name.startswith("bias_ih"):
                    param[config.hidden: 2 * config.hidden].fill_(1.0)
        self.proj = nn.Linear(config.hidden, config.embed_dim, bias=False) if config.hidden != config.embed_dim else None
        self.drop = nn.Dropout(config.dropout)
        self.softmax = tied_adaptive_softmax(self.embed, clusters(config), config.div_value)

    def features(self, idx: torch.Tensor, state=None):
        """What the softmax reads, (batch, time, embed_dim), and the state."""
        out, state = self.rnn(self.embed_drop(self.embed(idx)), state)
        out = self.drop(out)
        return (self.proj(out) if self.proj is not None else out), state

    def forward(self, idx, targets=None, state=None):
        """idx, targets: (batch, time) int64 (no -100 targets: streams have none)."""
        out, state = self.features(idx, state)
        loss = None
        if targets is not None:
            # CPU bf16 autocast: the softmax and its log-likelihoods run in bf16 (float32 ones cost 22%
            # of the speed); CUDA autocast computes log_softmax in float32, so the rows it writes
            # into must be float32 there (torch's adaptive softmax allocates them like its input)
            flat = out.reshape(-1, out.size(-1))
            loss = self.softmax(flat.float() if flat.is_cuda else flat, targets.reshape(-1)).loss
        return out, loss, state

    def summed_loss(self, idx, targets, state=None):
        """Summed negative log-likelihood (float32) over the targets that are not -100, their
        count and the state."""
        out, state = self.features(idx, state)
        flat, wanted = out.reshape(-1, out.size(-1)).float(), targets.reshape(-1)
        keep = wanted != -100
        count = keep.sum()
        if int(count) == 0:
            return torch.zeros((), device=idx.device), count, state
        return -self.softmax(flat[keep], wanted[keep]).output.sum(), count, state

    def next_log_probs(self, idx: torch.Tensor, state=None):
        """Log-probabilities of the word after each row of ``idx`` (batch, vocab), and the state."""
        out, state = self.features(idx, state)
        return self.softmax.log_prob(out[:, -1].float()), state

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def weights(self) -> dict[str, torch.Tensor]:
        """The state dict: the tied output rows are the embedding, stored once."""
        return self.state_dict()

    def tensor_shapes(self) -> dict[str, tuple[int, ...]]:
        return {name: tuple(t.shape) for name, t in self.state_dict().items()}


def clusters(config: WordLMConfig) -> list[int]:
    """The cutoffs inside the vocabulary; a vocabulary too small for any gets one at its middle."""
    inside = config.clusters()
    return inside or [max(1, (config.vocab_size - 1) // 2)]
