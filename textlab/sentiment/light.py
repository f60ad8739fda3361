"""The sentiment model's forward pass in numpy, for an input of a few lines on a CPU
(``echo "..." | textlab sentiment``): importing torch alone takes about 1 s on these machines
(2.3 s under load, 3.4 s seen on an Intel Xeon), several times what scoring a line costs. Same
weights, same arithmetic in float32 as :class:`textlab.sentiment.model.SentimentModel` in eval
mode (dropout off): embedding -> recurrent layers (each direction over each row's own length;
the backward direction reads the row reversed) -> pooling over the row's words (max and mean,
with ``last+max+mean`` the last output first; + the bag's mean) -> head, then the n-gram branch, the mix and the calibration. A test holds
its probabilities to the torch model's on the shipped models and on every cell.

Rows of a batch run together (:class:`textlab.lm.numpy_rnn.NumpyRecurrence`): each step
multiplies the states of all rows, and a row whose words have ended keeps its state (masked)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

import numpy as np

from textlab.lm.numpy_rnn import NumpyRecurrence, sigmoid
from textlab.sentiment.config import mix_logits
from textlab.sentiment.data import EncodedText, tokenize_one
from textlab.sentiment.hashing import dequantize_int8_at, flat_arrays
from textlab.sentiment.parts import LINEAR_SCALES, LINEAR_TABLE, SavedParts, make_encoder, model_name, read_parts
from textlab.sentiment.pretrained import model_lang
from textlab.store.files import check_tensors, load_arrays
from textlab.threads import library_threads


class LightModel:
    """The saved weights as float32 arrays (an int8 n-gram table stays int8: the few weights a
    text touches are scaled when looked up, so a 2^23-slot table costs 8 MB, not 32) and the
    forward pass over encoded texts."""

    def __init__(self, parts: SavedParts):
        self.config = parts.config
        arrays = load_arrays(parts.path, parts.stored_shapes())
        self.table_scales = arrays.pop(LINEAR_SCALES).astype(np.float32) if parts.int8_table else None
        table = arrays.pop(LINEAR_TABLE, None)
        self.w = {name: np.ascontiguousarray(a, dtype=np.float32) for name, a in arrays.items()}
        if table is not None:
            self.w[LINEAR_TABLE] = table if self.table_scales is not None else table.astype(np.float32)
        self.rnn = NumpyRecurrence(self.w, self.config.cell, self.config.layers)
        if "mix" in self.w:
            self.mix = np.concatenate([self.w["mix"], np.asarray(parts.short_mix, dtype=np.float32)])

    def neural(self, ids: np.ndarray, lengths: np.ndarray, bag: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
        """The neural part's logits of a padded batch ``ids`` [B, T] with ``lengths`` [B] (>= 1)."""
        config, w = self.config, self.w
        steps = np.arange(ids.shape[1])[None, :]
        mask = steps < lengths[:, None]
        flip = np.where(mask, lengths[:, None] - 1 - steps, steps)  # each row reversed within its length
        rows = np.arange(ids.shape[0])[:, None]
        layer_input = w["embedding.weight"][ids]
        for layer in range(config.layers):
            outputs = [self.rnn.direction(layer_input, f"l{layer}", mask)[0]]
            if config.bidirectional:
                backward = self.rnn.direction(layer_input[rows, flip], f"l{layer}_reverse", mask)[0]
                outputs.append(backward[rows, flip])  # back in reading order
            layer_input = np.concatenate(outputs, axis=-1)
        masked = mask[..., None]
        pooled = [] if config.pooling == "max+mean" else [self._last(layer_input, lengths)]
        pooled += [np.where(masked, layer_input, -np.inf).max(axis=1),
                  np.where(masked, layer_input, 0.0).sum(axis=1) / lengths[:, None].astype(np.float32)]
        if "bag.weight" in w:
            flat, offsets = bag
            sums = np.zeros((len(offsets), w["bag.weight"].shape[1]), dtype=np.float32)
            counts = np.diff(np.append(offsets, len(flat)))
            np.add.at(sums, np.repeat(np.arange(len(offsets)), counts), w["bag.weight"][flat])
            pooled.append(sums / np.maximum(counts, 1)[:, None].astype(np.float32))
        features = np.concatenate(pooled, axis=1)
        return features @ w["head.weight"][0] + w["head.bias"][0]

    def branch_weights(self, ids: np.ndarray) -> np.ndarray:
        """The n-gram table's float32 weights at ``ids`` (an int8 table's scaled at lookup)."""
        if self.table_scales is None:
            return self.w[LINEAR_TABLE][ids, 0]
        return dequantize_int8_at(self.w[LINEAR_TABLE], self.table_scales, ids)

    def _last(self, outputs: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """``last`` pooling (:func:`textlab.sentiment.model.last_outputs`): the forward direction's
        output at the last word; a backward direction's (in reading order here) at the first."""
        last = outputs[np.arange(len(lengths)), lengths - 1]
        if not self.config.bidirectional:
            return last
        hidden = outputs.shape[-1] // 2
        return np.concatenate([last[:, :hidden], outputs[:, 0, hidden:]], axis=1)

    def logits(self, encoded: Sequence[EncodedText]) -> np.ndarray:
        lengths = np.fromiter((len(e.sequence) for e in encoded), dtype=np.int64, count=len(encoded))
        words = np.fromiter((e.words for e in encoded), dtype=np.float64, count=len(encoded))
        ids = np.zeros((len(encoded), int(lengths.max())), dtype=np.int64)
        for row, item in enumerate(encoded):
            ids[row, : lengths[row]] = item.sequence
        bag = flat_arrays([e.bag for e in encoded]) if "bag.weight" in self.w else None
        with library_threads("blas"):  # a step's products are small: a second BLAS thread only waits
            logits = self.neural(ids, lengths, bag)
        if LINEAR_TABLE in self.w:
            flat, offsets = flat_arrays([e.ngram_branch for e in encoded])
            owner = np.repeat(np.arange(len(offsets)), np.diff(np.append(offsets, len(flat))))
            branch = np.bincount(owner, weights=self.branch_weights(flat), minlength=len(offsets))
            branch = branch.astype(np.float32) + self.w["linear.bias"][0]
            logits = mix_logits(self.mix, logits, branch, words)
        return logits.astype(np.float32)


class LightPredictor:
    """A :class:`textlab.sentiment.predict.Predictor` without torch, for a few lines on a CPU:
    the same encoder, weights and calibration, the forward pass of :class:`LightModel`. The model
    is read on first use (a language that never occurs costs nothing)."""

    device_type = "cpu"

    def __init__(self, path: Path):
        self.path = Path(path)
        self.lang = model_lang(self.path)
        self._parts: SavedParts | None = None
        self._model: LightModel | None = None
        self.load_seconds = 0.0

    @property
    def name(self) -> str:
        return model_name(self.path)

    @property
    def parts(self) -> SavedParts:
        if self._parts is None:
            start = time.perf_counter()
            self._parts = read_parts(self.path)
            self._model = LightModel(self._parts)
            self._encoder = make_encoder(self._parts.config, self._parts.vocab)
            self.load_seconds = time.perf_counter() - start
        return self._parts

    def load(self) -> "LightPredictor":
        """Read the model now (a damaged model is refused before any input is read)."""
        self.parts
        return self

    def check(self) -> "LightPredictor":
        """Refuse a damaged model now without reading its weights: the card, the vocabulary, the
        checksums of every file and the tensors' names and shapes (what `textlab sentiment
        --model` does before any input, when it cannot know yet which scorer will read it)."""
        check_tensors(self.path, read_parts(self.path).stored_shapes())
        return self

    def encode(self, text: str) -> EncodedText:
        self.parts
        return self._encoder.encode(tokenize_one(text, self.lang))

    def launch(self, encoded: Sequence[EncodedText]) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities, order): row r is ``encoded[order[r]]`` (the identity here)."""
        parts = self.parts
        logits = self._model.logits(encoded)
        words = np.fromiter((e.words for e in encoded), dtype=np.float64, count=len(encoded))
        probabilities = sigmoid(np.asarray(parts.calibration.apply(logits.astype(np.float64), words)))
        return probabilities, np.arange(len(encoded))
