"""Training: both engines recover the planted analogy; sampling rules; resume and workers (the
device engine's own tests are in test_engine.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from textlab.errors import TrainingInterrupted, UsageError
from textlab.text import TokenizerOptions
from textlab.w2v import plan as plan_module
from textlab.w2v import train as train_module
from textlab.w2v.corpus import encode_corpus
from textlab.w2v.keyed_vectors import KeyedVectors
from textlab.w2v.model import Word2Vec, Word2VecConfig, initial_vectors
from textlab.w2v.pipeline import train_word2vec
from textlab.w2v.sampling import NoiseSampler, keep_probabilities
from textlab.w2v.saving import load_word2vec
from textlab.w2v.train import train

from .helpers import write_planted


def quiet(line: str) -> None:
    pass


def _planted(tmp_path, sentences: int = 6000):
    return encode_corpus(write_planted(tmp_path / "planted.txt", sentences), TokenizerOptions(lang="none"),
                         min_count=1, log=quiet)


def _train_planted(tmp_path, arch: str, engine: str) -> KeyedVectors:
    corpus = _planted(tmp_path)
    config = Word2VecConfig(arch=arch, dim=24, window=3, negative=5, min_count=1, sample=0.0, epochs=4,
                            lr=0.025 if arch == "skipgram" else 0.05, batch_size=256, seed=3,
                            vocab_size=len(corpus.vocab), workers=1)
    model = Word2Vec(config)
    train(model, corpus, engine=engine)
    return KeyedVectors(corpus.vocab.words, model.vectors)


@pytest.mark.parametrize("engine", ["hogwild", "device"])
@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_planted_analogy_is_recovered(tmp_path, arch, engine):
    vectors = _train_planted(tmp_path, arch, engine)
    assert vectors.analogy("king", "man", "woman", k=1)[0][0] == "queen"
    assert vectors.analogy("prince", "boy", "girl", k=1)[0][0] == "princess"
    assert vectors.analogy("queen", "woman", "man", k=1, method="mul")[0][0] == "king"
    neighbours = [w for w, _ in vectors.most_similar("royal0", k=3)]  # rank words cluster together
    assert sum(w.startswith("royal") for w in neighbours) >= 2


def test_initialisation_as_word2vec():
    model = Word2Vec(Word2VecConfig(dim=50, vocab_size=1000))
    assert model.vectors.dtype == model.context.dtype == np.float32
    assert float(np.abs(model.vectors).max()) <= 0.5 / 50
    assert float(model.vectors.std()) > 0.1 / 50
    assert float(np.abs(model.context).max()) == 0.0


@pytest.mark.parametrize("seed, size, dim", [(1, 1000, 100), (3, 7, 5), (2**40 + 5, 100, 3), (-1, 50, 7)])
def test_numpy_initialisation_is_torchs_bit_for_bit(seed, size, dim):
    """The model left torch without changing a single starting number (nor, so, any result)."""
    expected = torch.rand(size, dim, generator=torch.Generator().manual_seed(seed)).sub_(0.5).div_(dim).numpy()
    assert np.array_equal(initial_vectors(size, dim, seed), expected)


def test_keep_probabilities_follow_word2vec():
    counts = np.array([100000, 1000, 10, 1])
    keep = keep_probabilities(counts, 1e-3)
    threshold = 1e-3 * counts.sum()
    expected = np.minimum((np.sqrt(counts / threshold) + 1) * threshold / counts, 1.0)
    np.testing.assert_allclose(keep, expected, rtol=1e-6)
    assert keep[0] < 0.5 and keep[-1] == 1.0
    assert (keep_probabilities(counts, 0) == 1).all()


def test_noise_follows_unigram_power():
    counts = np.array([1000, 100, 10, 1])
    draws = NoiseSampler(counts).sample((200000,), torch.Generator().manual_seed(0)).numpy()
    observed = np.bincount(draws, minlength=4) / draws.size
    expected = counts ** 0.75 / (counts ** 0.75).sum()
    np.testing.assert_allclose(observed, expected, atol=0.01)


@pytest.mark.parametrize("engine", ["hogwild", "device"])
def test_resume_continues_exactly(tmp_path, monkeypatch, engine):
    monkeypatch.setattr(plan_module, "CHUNK_WORDS", 4000)
    corpus = write_planted(tmp_path / "planted.txt", sentences=3000)
    config = Word2VecConfig(dim=16, window=3, min_count=1, sample=1e-3, epochs=2, batch_size=128, lang="none",
                            workers=1, engine=engine)
    train_word2vec(str(corpus), config, tmp_path / "full")
    with pytest.raises(TrainingInterrupted) as stopped:
        train_word2vec(str(corpus), config, tmp_path / "resumed", stop_after_chunks=3)
    assert "--resume" in str(stopped.value)
    assert (tmp_path / "resumed.ckpt" / "checkpoint.json").is_file()
    assert not (tmp_path / "resumed").exists()
    train_word2vec(str(corpus), config, tmp_path / "resumed", resume=True)
    full, _, _, _ = load_word2vec(tmp_path / "full")
    resumed, _, card, _ = load_word2vec(tmp_path / "resumed")
    assert card.config["epochs"] == 2 and card.metrics["engine"] == engine
    np.testing.assert_allclose(resumed.vectors, full.vectors, rtol=1.3e-6, atol=1e-5)  # torch's float32 defaults
    np.testing.assert_allclose(resumed.context, full.context, rtol=1.3e-6, atol=1e-5)
    assert not (tmp_path / "resumed.ckpt").exists()


def test_resume_applies_epochs_and_refuses_model_options(tmp_path, monkeypatch):
    monkeypatch.setattr(plan_module, "CHUNK_WORDS", 4000)
    corpus = write_planted(tmp_path / "planted.txt", sentences=3000)
    config = Word2VecConfig(dim=16, window=3, min_count=1, epochs=2, lang="none", workers=1)
    with pytest.raises(TrainingInterrupted):
        train_word2vec(str(corpus), config, tmp_path / "m", stop_after_chunks=2)
    with pytest.raises(UsageError) as refused:
        train_word2vec(str(corpus), dataclasses.replace(config, dim=50, window=5), tmp_path / "m", resume=True,
                       given={"dim": 50, "window": 5, "epochs": 3})
    message = str(refused.value)
    assert "--dim (the run was started with 16)" in message and "--window (the run was started with 3)" in message
    summary = train_word2vec(str(corpus), config, tmp_path / "m", resume=True, given={"epochs": 3})
    _, _, card, _ = load_word2vec(tmp_path / "m")
    assert card.config["epochs"] == 3 and card.config["dim"] == 16 and summary["dim"] == 16


def test_hogwild_workers_train_and_resume(tmp_path, monkeypatch):
    monkeypatch.setattr(plan_module, "CHUNK_WORDS", 5000)
    corpus = _planted(tmp_path)
    config = Word2VecConfig(dim=24, window=3, min_count=1, sample=0.0, epochs=4, seed=3,
                            vocab_size=len(corpus.vocab), workers=2)
    model = Word2Vec(config)
    with pytest.raises(train_module.Interrupted):
        train(model, corpus, stop_after_chunks=3, checkpoint_dir=tmp_path / "ckpt")
    saved = train_module.load_training_checkpoint(tmp_path / "ckpt")
    state = train_module.TrainState(**saved["state"])
    assert len(state.cursors) == 2 and 0 < state.words_done < 4 * corpus.num_words
    state = train(model, corpus, state)
    assert state.words_done == 4 * corpus.num_words
    assert all(cursor >= 4 * (-(-corpus.num_positions // 5000)) for cursor in state.cursors)
    vectors = KeyedVectors(corpus.vocab.words, model.vectors)
    assert vectors.analogy("king", "man", "woman", k=1)[0][0] == "queen"


def test_one_worker_is_bit_reproducible(tmp_path):
    corpus = _planted(tmp_path, 2000)
    results = []
    for _ in range(2):
        model = Word2Vec(Word2VecConfig(dim=16, min_count=1, epochs=2, workers=1, vocab_size=len(corpus.vocab)))
        train(model, corpus)
        results.append(model.vectors.copy())
    assert np.array_equal(results[0], results[1])


def test_the_default_learning_rate_follows_the_architecture(tmp_path):
    """lr 0 means word2vec C's defaults, on both engines: 0.05 for CBOW, 0.025 for skip-gram; a
    given rate is kept; the card records the rate used."""
    import json

    from textlab.w2v.config import initial_lr

    assert initial_lr(Word2VecConfig(arch="cbow")) == 0.05
    assert initial_lr(Word2VecConfig(arch="skipgram")) == 0.025
    assert initial_lr(Word2VecConfig(arch="cbow", lr=0.01)) == 0.01
    path = tmp_path / "c.txt"
    path.write_text("the king rules the land and the queen rules the sea\n" * 200)
    for arch, engine, expected in (("cbow", "hogwild", 0.05), ("cbow", "device", 0.05), ("skipgram", "device", 0.025)):
        config = Word2VecConfig(arch=arch, dim=8, epochs=1, min_count=1, lang="none", engine=engine)
        train_word2vec(str(path), config, tmp_path / engine, force=True, device="cpu")
        assert json.loads((tmp_path / engine / "config.json").read_text())["config"]["lr"] == expected


def test_resume_with_fewer_epochs_than_trained_is_refused(tmp_path, monkeypatch):
    """The card recorded --epochs 1 for vectors trained longer, and a rate for no work."""
    monkeypatch.setattr(plan_module, "CHUNK_WORDS", 4000)
    corpus = write_planted(tmp_path / "planted.txt", sentences=3000)
    config = Word2VecConfig(dim=16, window=3, min_count=1, epochs=3, lang="none", workers=1)
    with pytest.raises(TrainingInterrupted):
        train_word2vec(str(corpus), config, tmp_path / "m", stop_after_chunks=12)  # past the first epoch
    with pytest.raises(UsageError, match=r"has trained [12]\.\d\d epochs already: --epochs 1 leaves nothing to train"):
        train_word2vec(str(corpus), config, tmp_path / "m", resume=True, given={"epochs": 1})
    assert (tmp_path / "m.ckpt" / "checkpoint.json").is_file() and not (tmp_path / "m").exists()
    train_word2vec(str(corpus), config, tmp_path / "m", resume=True, given={"epochs": 4})
    assert load_word2vec(tmp_path / "m")[2].config["epochs"] == 4
