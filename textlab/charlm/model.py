"""The character-level recurrent language model: embedding -> LSTM/GRU/RNN -> linear head.

``forward(idx, targets=None, state=None) -> (logits, loss, state)``; the returned state is fed
back on the next chunk of the same streams (stateful truncated back-propagation through time).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from textlab.lm.streams import detach_state  # noqa: F401  (shared; old import path)
from textlab.charlm.config import CELLS, CONFIG_LIMITS, CharLMConfig  # noqa: F401  (the model's config: torch-free)

class CharLM(nn.Module):
    def __init__(self, config: CharLMConfig):
        super().__init__()
        self.config = config
        rnn_class = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[config.cell]
        self.embed = nn.Embedding(config.vocab_size, config.embed_dim)
        self.embed_drop = nn.Dropout(config.embed_dropout)
        self.rnn = rnn_class(
            config.embed_dim, config.hidden, num_layers=config.layers, batch_first=True,
            dropout=config.dropout if config.layers > 1 else 0.0,
        )
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden, config.vocab_size)
        if config.tie_weights:
            self.head.weight = self.embed.weight
        self._init_weights()

    def _init_weights(self) -> None:
        nn.init.zeros_(self.head.bias)
        if self.config.cell == "lstm":  # forget-gate bias 1: remember by default
            hidden = self.config.hidden
            for name, param in self.rnn.named_parameters():
                if name.startswith("bias_ih"):
                    with torch.no_grad():
                        param[hidden: 2 * hidden].fill_(1.0)

    def forward(self, idx, targets=None, state=None):
        """idx, targets: (batch, time) int64; returns logits (batch, time, vocab), mean loss, state."""
        x = self.embed_drop(self.embed(idx))
        out, state = self.rnn(x, state)
        logits = self.head(self.drop(out))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-100)
        return logits, loss, state

    def summed_loss(self, idx, targets, state=None):
        """Summed loss over the targets that are not -100 (float32 logits), their count and the
        state: what :mod:`textlab.lm.measure` adds up."""
        logits, _, state = self(idx, state=state)
        total = F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1),
                                ignore_index=-100, reduction="sum")
        return total, (targets != -100).sum(), state

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def tensor_shapes(self) -> dict[str, tuple[int, ...]]:
        return {name: tuple(t.shape) for name, t in self.state_dict().items() if not self._is_tied(name)}

    def _is_tied(self, name: str) -> bool:
        return self.config.tie_weights and name == "head.weight"

    def weights(self) -> dict[str, torch.Tensor]:
        """State dict for saving (a tied head is stored once, as the embedding)."""
        return {name: t for name, t in self.state_dict().items() if not self._is_tied(name)}

    def load_weights(self, tensors: dict[str, torch.Tensor]) -> None:
        if self.config.tie_weights:
            tensors = {**tensors, "head.weight": tensors["embed.weight"]}
        self.load_state_dict(tensors)


@torch.no_grad()
def rnn_compute_dtype(model: CharLM, device: torch.device, precision: str) -> str:
    """The dtype the recurrent layer really computes in under the training arithmetic (on CUDA,
    cuDNN's autocast path runs fp16 whatever autocast dtype is asked): one short forward pass
    with a hook on the layer's output."""
    from textlab.runtime.device import autocast

    seen: list[torch.dtype] = []
    handle = model.rnn.register_forward_hook(lambda module, inputs, output: seen.append(output[0].dtype))
    try:
        with autocast(device, precision):
            model(torch.zeros(1, 4, dtype=torch.int64, device=device))
    finally:
        handle.remove()
    return str(seen[0]).replace("torch.", "")
