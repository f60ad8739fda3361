"""Ids laid out for stateful truncated back-propagation through time: ``batch_size`` contiguous
streams for training, a few long rows covering every prediction once for measuring, and the
hidden state carried from one chunk to the next. (Importing it imports no torch: the char LM's
codec lives beside these names, and ``generate`` runs in numpy.)"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from textlab.errors import DataError

if TYPE_CHECKING:
    import torch


def stream_length(ids: int, batch_size: int, unit: str = "characters") -> int:
    """The length of each of ``batch_size`` streams cut from ``ids`` ids; a text too short for
    them (fewer than 2 ids a stream) is refused, naming the option. Checked before anything is
    built for that batch (the set-up probe included)."""
    length = ids // batch_size
    if length < 2:
        raise DataError(f"the training text ({ids} {unit}) is too short for {batch_size} streams; "
                        "use a smaller --batch-size")
    return length


def make_streams(ids: np.ndarray, batch_size: int, unit: str = "characters") -> torch.Tensor:
    """Cut the text into ``batch_size`` contiguous streams of equal length: (batch, length).

    Row b continues exactly where its previous chunk stopped, so the hidden state can carry
    from one chunk to the next (the word_language_model layout, batch first). The tail that
    does not divide evenly is dropped. ``unit`` names the ids in messages (characters, tokens).
    """
    import torch

    length = stream_length(len(ids), batch_size, unit)
    # kept in the ids' small integer type (2 or 4 bytes per id); chunk() widens each slice
    return torch.from_numpy(np.ascontiguousarray(ids[: length * batch_size]).reshape(batch_size, length))


def chunk(streams: torch.Tensor, start: int, seq_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``streams[:, start:start+L]`` and the next ids as targets."""
    end = min(start + seq_len, streams.size(1) - 1)
    return streams[:, start:end].long(), streams[:, start + 1:end + 1].long()


def eval_streams(ids: np.ndarray, n_streams: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets covering every prediction of ``ids`` (len(ids)-1 of them) exactly once,
    laid out as ``n_streams`` contiguous rows; padding targets are -100 (ignored)."""
    n_targets = len(ids) - 1
    n_streams = max(1, min(n_streams, n_targets))
    length = -(-n_targets // n_streams)
    import torch

    ids = torch.from_numpy(np.asarray(ids, dtype=np.int64))
    inputs = torch.zeros(n_streams * length, dtype=torch.int64)
    targets = torch.full((n_streams * length,), -100, dtype=torch.int64)
    inputs[:n_targets] = ids[:-1]
    targets[:n_targets] = ids[1:]
    return inputs.view(n_streams, length), targets.view(n_streams, length)


def detach_state(state):
    """Cut the graph between chunks while keeping the values (LSTM state is a pair)."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()
