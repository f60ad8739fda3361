"""PyTorch's recurrent layers (``nn.LSTM``, ``nn.GRU``, ``nn.RNN`` with tanh; batch first; eval
mode) computed in numpy from their saved weights, for the commands that answer one line:
importing torch takes about 1 s on these machines (2-3 s under load or on a slow disk), several
times what a sentence or 1,000 sampled characters cost. The same float32 arithmetic in
PyTorch's gate order (LSTM: i, f, g, o; GRU: r, z, n); tests hold it to torch's outputs."""

from __future__ import annotations

import numpy as np

GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def sigmoid(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


class NumpyRecurrence:
    """The layers of one recurrent module: ``weights`` holds its arrays under ``prefix``
    (``rnn.weight_ih_l0``, ``rnn.weight_hh_l0_reverse``, ...)."""

    def __init__(self, weights: dict[str, np.ndarray], cell: str, layers: int, prefix: str = "rnn."):
        if cell not in GATES:
            raise ValueError(f"unknown cell {cell!r}")
        self.cell, self.layers = cell, layers
        self.w = {name[len(prefix):]: np.ascontiguousarray(array, dtype=np.float32)
                  for name, array in weights.items() if name.startswith(prefix)}
        self.w_hh_t = {name: array.T.copy() for name, array in self.w.items() if name.startswith("weight_hh_")}

    def direction(self, x: np.ndarray, name: str, mask: np.ndarray | None = None, state=None):
        """One layer and direction (``name``: ``l0``, ``l1_reverse``, ...) over ``x`` [B, T, in]:
        ``(outputs [B, T, H], state)``. Rows stop at their ``mask`` [B, T] (their state is kept;
        later outputs repeat it). ``state``: ``(h, c)`` (LSTM) or ``h``, each [B, H]; zeros if None."""
        w_hh = self.w_hh_t[f"weight_hh_{name}"]
        b_hh = self.w[f"bias_hh_{name}"]
        inputs = x @ self.w[f"weight_ih_{name}"].T + self.w[f"bias_ih_{name}"]  # every step at once
        rows, steps, hidden = x.shape[0], x.shape[1], w_hh.shape[0]
        if state is None:
            h = np.zeros((rows, hidden), dtype=np.float32)
            c = np.zeros_like(h)
        else:
            h, c = state if self.cell == "lstm" else (state, None)
        out = np.empty((rows, steps, hidden), dtype=np.float32)
        for t in range(steps):
            keep = None if mask is None else mask[:, t, None]
            recurrent = h @ w_hh + b_hh
            if self.cell == "lstm":
                i, f, g, o = np.split(inputs[:, t] + recurrent, 4, axis=1)
                c_new = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
                h_new = sigmoid(o) * np.tanh(c_new)
                c = c_new if keep is None else np.where(keep, c_new, c)
            elif self.cell == "gru":
                x_r, x_z, x_n = np.split(inputs[:, t], 3, axis=1)
                h_r, h_z, h_n = np.split(recurrent, 3, axis=1)
                r, z = sigmoid(x_r + h_r), sigmoid(x_z + h_z)
                h_new = (1.0 - z) * np.tanh(x_n + r * h_n) + z * h
            else:
                h_new = np.tanh(inputs[:, t] + recurrent)
            h = h_new if keep is None else np.where(keep, h_new, h)
            out[:, t] = h
        return out, ((h, c) if self.cell == "lstm" else h)

    def __call__(self, x: np.ndarray, states: list | None = None):
        """A one-direction stack over ``x`` [B, T, in]: ``(last layer's outputs, states per layer)``."""
        new_states = []
        for layer in range(self.layers):
            x, state = self.direction(x, f"l{layer}", state=None if states is None else states[layer])
            new_states.append(state)
        return x, new_states
