"""word2vec models in the store: kind ``word2vec``, ``vocab.tsv`` (training vocabulary, no
specials, by descending count), ``weights.safetensors`` with ``vectors`` [V, dim] (input
vectors, what users query) and ``context`` [V, dim] (output weights, for continued training),
and ``curve.png``, the training loss curve. Written and read as numpy arrays: no torch."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np

from textlab.errors import TextlabError
from textlab.plots import CURVE_FILE, render_training_curve
from textlab.runtime.memory import trim_heap
from textlab.store.cards import ModelCard
from textlab.store.choice import resolve_model
from textlab.store.files import load_arrays, save_model
from textlab.text import Vocab
from textlab.w2v.loading import KIND, checked_vocab, read_config
from textlab.w2v.model import Word2Vec

def default_name(corpus: str, arch: str) -> str:
    """``w2v-<corpus stem>-<arch>``, e.g. ``w2v-text8-skipgram``."""
    stem = Path(str(corpus).rstrip("/")).name or "corpus"
    for suffix in (".gz", ".zip", ".tgz", ".tar", ".txt", ".tsv", ".csv"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    stem = re.sub(r"[^\w.-]+", "_", stem).strip("._") or "corpus"
    return f"w2v-{stem}-{arch}"


def save_word2vec(path: Path, model: Word2Vec, vocab: Vocab, data: dict, metrics: dict | None = None,
                  force: bool = False, extra: dict | None = None, history: list | None = None,
                  release: bool = False) -> Path:
    """Save the model with its card; ``history`` ([epoch position, loss] points, as recorded by
    :func:`textlab.w2v.train.train`) becomes ``curve.png`` in the same atomic write.
    ``release``: the caller is done with ``model``: its matrices are let go once written, before
    the curve is drawn (matplotlib's ~30 MB and the matrices then never add up)."""
    if not (np.isfinite(model.vectors).all() and np.isfinite(model.context).all()):
        raise TextlabError(f"training diverged (the vectors became non-finite) with a vocabulary of "
                           f"{len(vocab):,} words; nothing was saved; try a smaller --lr")
    card = ModelCard(kind=KIND, config=dataclasses.asdict(model.config), data=data, metrics=metrics or {}, extra=extra or {})
    tensors = {"vectors": np.asarray(model.vectors, np.float32), "context": np.asarray(model.context, np.float32)}
    arch = model.config.arch

    def curve() -> bytes | None:
        if release:
            tensors.clear()
            model.vectors = model.context = None
            trim_heap()
        return loss_curve(history or [], str(data.get("corpus", "")), arch)

    return save_model(path, card, tensors, vocab_tsv=vocab.to_tsv(), force=force, extra_files={CURVE_FILE: curve})


def loss_curve(history: list, corpus: str, arch: str) -> bytes | None:
    """PNG of the training loss (mean negative-sampling loss per pair) against epochs."""
    points = [(float(x), float(y)) for x, y in history if np.isfinite(y)]
    return render_training_curve({"train loss": [y for _, y in points]},
                                 f"word2vec {arch}: {Path(corpus.rstrip('/')).name or corpus}",
                                 x=[x for x, _ in points])


def load_word2vec(spec: str | Path | None) -> tuple[Word2Vec, Vocab, ModelCard, Path]:
    """The full model (both matrices) for continued training or queries."""
    path = resolve_model(spec or None, KIND)
    card, config = read_config(path)
    vocab = checked_vocab(path, config)
    shape = (config.vocab_size, config.dim)
    arrays = load_arrays(path, {"vectors": shape, "context": shape})
    model = Word2Vec(config, *(np.array(arrays[name], dtype=np.float32) for name in ("vectors", "context")))
    return model, vocab, card, path
