"""Training: both engines recover the planted analogy; the device engine's step equals autograd
and makes no host synchronisation; sampling rules; resume and workers."""

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
from textlab.w2v.engine import StepMath, row_scale
from textlab.w2v.keyed_vectors import KeyedVectors
from textlab.w2v.model import Word2Vec, Word2VecConfig
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
    return KeyedVectors(corpus.vocab.words, model.vectors.numpy())


@pytest.mark.parametrize("engine", ["hogwild", "device"])
@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_planted_analogy_is_recovered(tmp_path, arch, engine):
    vectors = _train_planted(tmp_path, arch, engine)
    assert vectors.analogy("king", "man", "woman", k=1)[0][0] == "queen"
    assert vectors.analogy("prince", "boy", "girl", k=1)[0][0] == "princess"
    assert vectors.analogy("queen", "woman", "man", k=1, method="mul")[0][0] == "king"
    neighbours = [w for w, _ in vectors.most_similar("royal0", k=3)]  # rank words cluster together
    assert sum(w.startswith("royal") for w in neighbours) >= 2


def _autograd_reference(arch: str, vectors: torch.Tensor, context: torch.Tensor, contexts, targets):
    config = Word2VecConfig(arch=arch, dim=vectors.shape[1], vocab_size=vectors.shape[0])
    reference = Word2Vec(config)
    reference.vectors.data.copy_(vectors)
    reference.context.data.copy_(context)
    reference.vectors.requires_grad_(True)
    reference.context.requires_grad_(True)
    _, loss = reference(contexts, targets)
    pairs = (contexts >= 0).sum() if arch == "skipgram" else contexts.shape[0]
    (loss * pairs).backward()
    return reference, loss.detach() * pairs


@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_device_step_matches_autograd(arch):
    """Without the per-row scaling the step is plain SGD: autograd's gradient (CBOW: word2vec's
    undivided error for each context word)."""
    torch.manual_seed(0)
    vocab, dim, lr = 30, 8, 0.1
    vectors, context = torch.randn(vocab, dim) * 0.3, torch.randn(vocab, dim) * 0.3
    contexts = torch.tensor([[1, 2, -1, 4], [5, 6, 7, 8], [9, -1, -1, 10]])
    targets = torch.tensor([[11, 12, 13], [14, 15, 16], [17, 18, 19]])
    reference, expected_loss = _autograd_reference(arch, vectors, context, contexts, targets)
    sink_vectors = torch.cat([vectors, torch.zeros(1, dim)])
    sink_context = torch.cat([context, torch.zeros(1, dim)])
    step = StepMath(arch, vocab, dim, torch.device("cpu"), limit=None)
    loss = step(sink_vectors, sink_context, torch.where(contexts < 0, vocab, contexts), targets,
                torch.ones(targets.shape), lr)
    assert float(loss) == pytest.approx(float(expected_loss), rel=1e-5)
    grad = reference.vectors.grad
    if arch == "cbow":
        per_row = (contexts >= 0).sum(1, keepdim=True).expand_as(contexts)
        grad = grad * torch.ones(vocab).index_put_((contexts[contexts >= 0],), per_row[contexts >= 0].float())[:, None]
    torch.testing.assert_close(sink_vectors[:vocab], vectors - lr * grad, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(sink_context[:vocab], context - lr * reference.context.grad, atol=1e-6, rtol=1e-5)
    assert float(sink_vectors[vocab].abs().sum()) == 0 and float(sink_context[vocab].abs().sum()) == 0


def test_row_scale_leaves_plain_sgd_alone_and_caps_crowded_rows():
    curvature = torch.tensor([0.0, 1.0, 40.0, 80.0, 4000.0])
    scale = row_scale(curvature, 0.025, limit=1.5)
    assert scale[:3].tolist() == [1.0, 1.0, 1.0]  # x = 0, 0.025, 1.0: under the limit
    x = 0.025 * curvature[3:]
    torch.testing.assert_close(scale[3:], 1.5 / x)  # capped at 1.5 Newton steps
    assert float(scale[-1] * x[-1]) == pytest.approx(1.5)


def test_a_tiny_vocabulary_shrinks_the_device_step_so_training_stays_finite(tmp_path):
    """Twelve equally frequent words: at 256 centre words per step every row gets hundreds of
    stale summed updates and skip-gram diverges; the step is capped at 4 centres per word."""
    import random

    from textlab.w2v.config import device_step

    rng = random.Random(0)
    words = "the king queen man woman rules land sea castle crown sword horse".split()
    path = tmp_path / "w12.txt"
    path.write_text("\n".join(" ".join(rng.choice(words) for _ in range(30)) for _ in range(3000)) + "\n")
    corpus = encode_corpus(path, TokenizerOptions(lang="none"), min_count=1, log=quiet)
    for arch in ("skipgram", "cbow"):
        config = Word2VecConfig(arch=arch, dim=32, min_count=1, epochs=1, sample=0.0, vocab_size=len(corpus.vocab))
        assert device_step(config)[0] == 48
        model = Word2Vec(config)
        train(model, corpus, engine="device")
        assert bool(torch.isfinite(model.vectors).all()) and float(model.vectors.abs().max()) < 10
    assert device_step(Word2VecConfig(arch="cbow", vocab_size=30_000)) == (4096, 4.0)
    assert device_step(Word2VecConfig(arch="skipgram", vocab_size=30_000)) == (2048, 1.5)


@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_device_engine_stays_stable_on_a_heavy_headed_corpus(tmp_path, arch):
    """Zipf(1.25) words (the top word is a fifth of the text): wrong-side saturated scores have
    almost no Gauss-Newton curvature, so without the secant floor the row cap let skip-gram blow
    up (mean loss 40). The device engine must train as well as the hogwild one here."""
    rng = np.random.default_rng(0)
    ranks = np.minimum(rng.zipf(1.25, size=100_000), 200_000).reshape(-1, 1000)
    path = tmp_path / "zipf.txt"
    path.write_text("\n".join(" ".join(f"w{r}" for r in line) for line in ranks) + "\n")
    losses = {}
    for engine in ("device", "hogwild"):
        config = Word2VecConfig(arch=arch, epochs=1, lang="none", engine=engine, workers=1)
        summary = train_word2vec(str(path), config, tmp_path / engine, force=True, device="cpu")
        losses[engine] = summary["mean_loss"]
    assert losses["device"] < 1.3 * losses["hogwild"], losses


def test_device_steps_make_no_host_synchronisation(tmp_path):
    """Inside a chunk the device engine never reads a value back (which on a GPU would stall
    it): no .item()/bool()/int()/float()/tolist()/numpy()/cpu() and no data-dependent op
    (nonzero, masked_select, unique, ...) over N steps. Per chunk exactly one read: its counts."""
    from torch.utils._python_dispatch import TorchDispatchMode

    from textlab.w2v.engine import DeviceEngine
    from textlab.w2v.plan import Plan

    syncing = {"aten._local_scalar_dense.default", "aten.nonzero.default", "aten.masked_select.default",
               "aten._unique2.default", "aten.unique_consecutive.default", "aten.item.default",
               "aten.repeat_interleave.Tensor", "aten.equal.default", "aten.is_nonzero.default"}

    class Syncs(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.seen: list[str] = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if str(func) in syncing or (str(func).startswith("aten._to_copy") and
                                        (kwargs or {}).get("device") is not None and kwargs["device"].type == "cpu"):
                self.seen.append(str(func))
            return func(*args, **(kwargs or {}))

    corpus = _planted(tmp_path, 2000)
    for arch in ("skipgram", "cbow"):
        config = Word2VecConfig(arch=arch, dim=16, window=3, min_count=1, sample=1e-3, epochs=1, batch_size=64,
                                vocab_size=len(corpus.vocab))
        model = Word2Vec(config)
        plan = Plan(chunks=1, items=1, total_words=corpus.num_words, workers=1, first=0, last=corpus.num_positions)
        engine = DeviceEngine(model, corpus, keep_probabilities(corpus.vocab.counts, config.sample),
                              NoiseSampler(corpus.vocab.counts), plan)
        prepared = engine.prepare(0)
        kept, words = prepared.read_counts()
        assert words == corpus.num_words and 0 < kept < words
        steps = 0
        with Syncs() as mode:
            for start in range(0, kept, config.batch_size):
                stop = min(kept, start + config.batch_size)
                contexts, targets, weight = engine.batch(prepared, start, stop, kept)
                engine.step(engine.vectors, engine.context, contexts, targets, weight, 0.01)
                steps += 1
        assert steps >= 10 and mode.seen == [], (arch, mode.seen[:5])
        # a whole chunk: one read-back (the counts), whatever the number of steps
        with Syncs() as mode:
            engine.train_item(0, 0.01, 0.001)
        assert mode.seen == ["aten._local_scalar_dense.default"] * 2, mode.seen


def test_device_windows_stay_inside_sentences_and_spans(tmp_path):
    from textlab.w2v.engine import DeviceEngine
    from textlab.w2v.plan import Plan

    path = tmp_path / "s.txt"
    path.write_text("".join(" ".join(f"s{s}w{i}" for i in range(10)) + "\n" for s in range(4)))
    corpus = encode_corpus(path, TokenizerOptions(lang="none"), min_count=1, log=quiet)
    config = Word2VecConfig(dim=4, window=4, min_count=1, sample=0.0, batch_size=7, vocab_size=len(corpus.vocab))
    plan = Plan(chunks=1, items=1, total_words=40, workers=1, first=0, last=corpus.num_positions)
    engine = DeviceEngine(Word2Vec(config), corpus, keep_probabilities(corpus.vocab.counts, 0.0),
                          NoiseSampler(corpus.vocab.counts), plan)
    prepared = engine.prepare(0)
    kept, _ = prepared.read_counts()
    assert kept == 40
    words = corpus.vocab.words
    seen = 0
    for start in range(0, kept, 7):
        contexts, targets, _ = engine.batch(prepared, start, min(kept, start + 7), kept)
        for centre, row in zip(targets[:, 0].tolist(), contexts.tolist()):
            sentence, position = words[centre][1:].split("w")
            others = [words[c][1:].split("w") for c in row if c != len(words)]
            assert others and all(s == sentence for s, _ in others)
            distances = {abs(int(p) - int(position)) for _, p in others}
            assert 0 not in distances and max(distances) <= 4
            seen += 1
    assert seen == 40


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
    torch.testing.assert_close(resumed.vectors, full.vectors)
    torch.testing.assert_close(resumed.context, full.context)
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
    vectors = KeyedVectors(corpus.vocab.words, model.vectors.numpy())
    assert vectors.analogy("king", "man", "woman", k=1)[0][0] == "queen"


def test_one_worker_is_bit_reproducible(tmp_path):
    corpus = _planted(tmp_path, 2000)
    results = []
    for _ in range(2):
        model = Word2Vec(Word2VecConfig(dim=16, min_count=1, epochs=2, workers=1, vocab_size=len(corpus.vocab)))
        train(model, corpus)
        results.append(model.vectors.clone())
    assert torch.equal(results[0], results[1])


def test_the_default_learning_rate_follows_the_architecture_and_engine(tmp_path):
    """lr 0 means word2vec C's defaults: 0.05 for CBOW on the hogwild engine, else 0.025 (the
    device engine's steps were tuned there); a given rate is kept; the card records the rate used."""
    import json

    from textlab.w2v.config import initial_lr

    assert initial_lr(Word2VecConfig(arch="cbow"), "hogwild") == 0.05
    assert initial_lr(Word2VecConfig(arch="cbow"), "device") == 0.025
    assert initial_lr(Word2VecConfig(arch="skipgram"), "hogwild") == 0.025
    assert initial_lr(Word2VecConfig(arch="cbow", lr=0.01), "hogwild") == 0.01
    path = tmp_path / "c.txt"
    path.write_text("the king rules the land and the queen rules the sea\n" * 200)
    for engine, expected in (("hogwild", 0.05), ("device", 0.025)):
        config = Word2VecConfig(arch="cbow", dim=8, epochs=1, min_count=1, lang="none", engine=engine)
        train_word2vec(str(path), config, tmp_path / engine, force=True, device="cpu")
        assert json.loads((tmp_path / engine / "config.json").read_text())["config"]["lr"] == expected
