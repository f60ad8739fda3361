"""train-w2v saves its loss curve (curve.png) with the model, recorded per progress interval and
carried through an interrupted and resumed run."""

from __future__ import annotations

import pytest

from tests.w2v.helpers import write_planted
from textlab.text import TokenizerOptions
from textlab.w2v import plan as plan_module
from textlab.w2v import train as train_module
from textlab.w2v.corpus import encode_corpus
from textlab.w2v.model import Word2Vec, Word2VecConfig
from textlab.w2v.saving import loss_curve

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _decoded(png_path):
    """The PNG decoded by matplotlib (fails on a truncated or invalid file)."""
    import matplotlib.image

    pixels = matplotlib.image.imread(str(png_path), format="png")
    assert pixels.ndim == 3 and pixels.shape[0] > 200 and pixels.shape[1] > 300
    assert pixels.std() > 0.01  # not a blank canvas
    return pixels


def test_train_w2v_writes_a_valid_curve_png(cli, tmp_path):
    corpus = write_planted(tmp_path / "planted.txt", sentences=800)
    result = cli("train-w2v", str(corpus), "--epochs", "2", "--min-count", "1", "--dim", "8",
                 "-o", str(tmp_path / "model"))
    assert result.exit_code == 0, result.output
    curve = tmp_path / "model" / "curve.png"
    assert curve.read_bytes()[:8] == PNG_SIGNATURE
    _decoded(curve)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".model")]  # written in the same atomic save


def test_history_has_a_point_per_chunk_and_survives_resume(tmp_path, monkeypatch):
    monkeypatch.setattr(plan_module, "CHUNK_WORDS", 2000)
    corpus = encode_corpus(write_planted(tmp_path / "planted.txt", sentences=1500), TokenizerOptions(lang="none"),
                           min_count=1, log=lambda line: None)
    config = Word2VecConfig(dim=8, window=3, min_count=1, epochs=2, batch_size=128, lang="none",
                            vocab_size=len(corpus.vocab), workers=1)
    chunks = -(-corpus.num_positions // 2000)
    assert chunks >= 3
    with pytest.raises(train_module.Interrupted):
        train_module.train(Word2Vec(config), corpus, stop_after_chunks=3, checkpoint_dir=tmp_path / "ckpt")
    saved = train_module.load_training_checkpoint(tmp_path / "ckpt")
    state = train_module.TrainState(**saved["state"])
    assert len(state.history) == 3
    model = Word2Vec(config, saved["vectors"].copy(), saved["context"].copy())
    state = train_module.train(model, corpus, state)
    positions = [x for x, _ in state.history]
    assert len(state.history) == 2 * chunks
    assert positions == sorted(positions) and positions[-1] == pytest.approx(2.0)
    losses = [y for _, y in state.history]
    assert all(0 < y < 10 for y in losses) and losses[-1] < losses[0]  # it learns
    png = loss_curve(state.history, "planted.txt", "skipgram")
    assert png[:8] == PNG_SIGNATURE


def test_no_history_no_curve():
    assert loss_curve([], "c.txt", "cbow") is None
    assert loss_curve([[1.0, float("nan")]], "c.txt", "cbow") is None


def test_a_released_model_is_written_whole_before_its_curve_is_drawn(tmp_path):
    """save_word2vec(release=True): the matrices are on disk, then let go, then the curve is drawn
    (matplotlib's memory and the matrices' never add up); the directory is complete either way."""
    import numpy as np

    from textlab.text import Vocab
    from textlab.w2v.saving import load_word2vec, save_word2vec

    config = Word2VecConfig(vocab_size=3, dim=4)
    model = Word2Vec(config)
    vectors, context = model.vectors.copy(), model.context.copy()
    history = [[0.5, 3.0], [1.0, 2.5]]
    save_word2vec(tmp_path / "m", model, Vocab(["a", "b", "c"], [3, 2, 1]), {"corpus": "c.txt"}, history=history,
                  release=True)
    assert model.vectors is None and model.context is None
    loaded, _, _, _ = load_word2vec(str(tmp_path / "m"))
    assert np.array_equal(loaded.vectors, vectors) and np.array_equal(loaded.context, context)
    assert (tmp_path / "m" / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
