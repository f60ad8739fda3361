"""Text generation: feed the seed in one forward pass, then sample one character at a time
(temperature, optional top-k: :mod:`textlab.lm.sampling`), carrying the hidden state."""

from __future__ import annotations

from typing import Callable, Iterator

import torch

from textlab.charlm.data import CharCodec
from textlab.charlm.model import CharLM
from textlab.charlm.alphabet import check_seed, default_seed  # noqa: F401  (torch-free; names kept here)
from textlab.errors import UsageError
from textlab.lm.sampling import check_sampling, draw, step_by_step_kernels


@torch.inference_mode()
def sample_chars(model: CharLM, codec: CharCodec, seed: str, length: int, temperature: float = 0.8,
                 top_k: int | None = None, device: torch.device | str = "cpu",
                 generator: torch.Generator | None = None) -> Iterator[str]:
    """Yield ``length`` new characters that continue ``seed``."""
    if not seed:
        raise UsageError("the seed must not be empty")
    check_sampling(temperature, top_k)
    check_seed(seed, codec)
    model.eval()
    idx = torch.as_tensor(codec.encode(seed), dtype=torch.int64, device=device).unsqueeze(0)
    logits, _, state = model(idx)  # the whole seed in one pass
    logits = logits[:, -1, :]
    with step_by_step_kernels():
        for _ in range(length):
            next_id = draw(logits, temperature, top_k, generator)
            yield codec.alphabet[int(next_id)]
            logits, _, state = model(next_id, state=state)
            logits = logits[:, -1, :]


def generate(model: CharLM, codec: CharCodec, seed: str, length: int = 1000, temperature: float = 0.8,
             top_k: int | None = None, device: torch.device | str = "cpu",
             on_char: Callable[[str], None] | None = None, generator: torch.Generator | None = None) -> str:
    """The seed followed by ``length`` sampled characters (``on_char`` sees each as it comes)."""
    pieces = [seed]
    for char in sample_chars(model, codec, seed, length, temperature, top_k, device, generator):
        pieces.append(char)
        if on_char is not None:
            on_char(char)
    return "".join(pieces)


@torch.inference_mode()
def next_char_probs(model: CharLM, codec: CharCodec, text: str) -> torch.Tensor:
    """Probabilities of the character after ``text`` (used by tests and curious users)."""
    model.eval()
    idx = torch.as_tensor(codec.encode(text), dtype=torch.int64).unsqueeze(0)
    logits, _, _ = model(idx.to(next(model.parameters()).device))
    return torch.softmax(logits[0, -1].float(), dim=-1).cpu()
