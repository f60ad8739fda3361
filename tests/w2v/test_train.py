"""Training: the planted analogy is recovered; hand-written SGD equals autograd; sampling rules."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from textlab.errors import TrainingInterrupted
from textlab.text import TokenizerOptions
from textlab.w2v import train as train_module
from textlab.w2v.corpus import encode_corpus
from textlab.w2v.keyed_vectors import KeyedVectors
from textlab.w2v.model import Word2Vec, Word2VecConfig
from textlab.w2v.pipeline import train_word2vec
from textlab.w2v.sampling import NoiseSampler, keep_probabilities, window_groups
from textlab.w2v.saving import load_word2vec
from textlab.w2v.train import train

from .helpers import write_planted


def _train_planted(tmp_path, arch: str) -> KeyedVectors:
    corpus = encode_corpus(write_planted(tmp_path / "planted.txt"), TokenizerOptions(lang="none"), min_count=1)
    config = Word2VecConfig(arch=arch, dim=24, window=3, negative=5, min_count=1, sample=0.0, epochs=4,
                            lr=0.025 if arch == "skipgram" else 0.05, batch_size=64, seed=3, vocab_size=len(corpus.vocab))
    model = Word2Vec(config)
    train(model, corpus)
    return KeyedVectors(corpus.vocab.words, model.vectors.numpy())


@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_planted_analogy_is_recovered(tmp_path, arch):
    vectors = _train_planted(tmp_path, arch)
    assert vectors.analogy("king", "man", "woman", k=1)[0][0] == "queen"
    assert vectors.analogy("prince", "boy", "girl", k=1)[0][0] == "princess"
    assert vectors.analogy("queen", "woman", "man", k=1, method="mul")[0][0] == "king"
    # rank words cluster together
    neighbours = [w for w, _ in vectors.most_similar("royal0", k=3)]
    assert sum(w.startswith("royal") for w in neighbours) >= 2


@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_hand_written_step_matches_autograd(arch):
    torch.manual_seed(0)
    config = Word2VecConfig(arch=arch, dim=8, vocab_size=30, seed=2)
    model = Word2Vec(config)
    model.context.data.normal_(0, 0.3)
    model.vectors.data.normal_(0, 0.3)
    contexts = torch.tensor([[1, 2, -1, 4], [5, 6, 7, 8], [9, -1, -1, 10]])
    targets = torch.tensor([[11, 12, 13], [14, 15, 16], [17, 18, 19]])
    reference = Word2Vec(config)
    reference.vectors.data.copy_(model.vectors.data)
    reference.context.data.copy_(model.context.data)
    reference.vectors.requires_grad_(True)
    reference.context.requires_grad_(True)
    _, loss = reference(contexts, targets)
    pairs = (contexts >= 0).sum() if arch == "skipgram" else 3
    (loss * pairs).backward()
    lr = 0.1
    summed = model.sgd_step(contexts, targets, lr)
    assert float(summed) == pytest.approx(float(loss.detach() * pairs), rel=1e-5)
    step = reference.vectors.grad
    if arch == "cbow":  # word2vec's cbow_mean=1: each context word gets the error of the mean, not divided
        per_row = (contexts >= 0).sum(1, keepdim=True).expand_as(contexts)
        scale = torch.ones(30).index_put_((contexts[contexts >= 0],), per_row[contexts >= 0].float())
        step = step * scale[:, None]
    torch.testing.assert_close(model.vectors.data, reference.vectors.data - lr * step, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(model.context.data, reference.context.data - lr * reference.context.grad, atol=1e-6, rtol=1e-5)


def test_initialisation_as_word2vec():
    model = Word2Vec(Word2VecConfig(dim=50, vocab_size=1000))
    assert float(model.vectors.abs().max()) <= 0.5 / 50
    assert float(model.vectors.std()) > 0.1 / 50
    assert float(model.context.abs().max()) == 0.0


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


def test_windows_stay_inside_sentences_and_spans():
    rng = np.random.default_rng(0)
    ids = np.arange(40, dtype=np.int32)
    sentences = np.repeat(np.arange(4), 10).astype(np.int32)
    seen = 0
    for span, centres, contexts in window_groups(ids, sentences, 4, rng):
        assert contexts.shape == (centres.size, 2 * span)
        for centre, row in zip(centres, contexts):
            for context in row[row >= 0]:
                assert 0 < abs(int(context) - int(centre)) <= span
                assert context // 10 == centre // 10
        seen += centres.size
    assert seen == 40


def test_resume_continues_exactly(tmp_path, monkeypatch):
    monkeypatch.setattr(train_module, "CHUNK_WORDS", 4000)
    corpus = write_planted(tmp_path / "planted.txt", sentences=3000)
    config = Word2VecConfig(dim=16, window=3, min_count=1, sample=1e-3, epochs=2, batch_size=128, lang="none", workers=1)
    train_word2vec(str(corpus), config, tmp_path / "full")
    with pytest.raises(TrainingInterrupted) as stopped:
        train_word2vec(str(corpus), config, tmp_path / "resumed", stop_after_chunks=3)
    assert "--resume" in str(stopped.value)
    assert (tmp_path / "resumed.ckpt" / "checkpoint.json").is_file()
    assert not (tmp_path / "resumed").exists()
    other = dataclasses.replace(config, epochs=99)  # the checkpoint's settings win
    train_word2vec(str(corpus), other, tmp_path / "resumed", resume=True)
    full, _, _, _ = load_word2vec(tmp_path / "full")
    resumed, _, card, _ = load_word2vec(tmp_path / "resumed")
    assert card.config["epochs"] == 2
    torch.testing.assert_close(resumed.vectors, full.vectors)
    torch.testing.assert_close(resumed.context, full.context)
    assert not (tmp_path / "resumed.ckpt").exists()


def test_hogwild_workers_train_and_resume(tmp_path, monkeypatch):
    monkeypatch.setattr(train_module, "CHUNK_WORDS", 5000)
    corpus = encode_corpus(write_planted(tmp_path / "planted.txt"), TokenizerOptions(lang="none"), min_count=1)
    config = Word2VecConfig(dim=24, window=3, min_count=1, sample=0.0, epochs=4, batch_size=64, seed=3,
                            vocab_size=len(corpus.vocab), workers=2)
    model = Word2Vec(config)
    with pytest.raises(train_module.Interrupted):
        train(model, corpus, stop_after_chunks=3, checkpoint_dir=tmp_path / "ckpt")
    saved = train_module.load_training_checkpoint(tmp_path / "ckpt")
    state = train_module.TrainState(**saved["state"])
    assert len(state.cursors) == 2 and 0 < state.words_done < 4 * corpus.num_words
    state = train(model, corpus, state)
    assert state.words_done == 4 * corpus.num_words
    assert all(cursor >= 4 * (-(-corpus.num_words // 5000)) for cursor in state.cursors)
    vectors = KeyedVectors(corpus.vocab.words, model.vectors.numpy())
    assert vectors.analogy("king", "man", "woman", k=1)[0][0] == "queen"
