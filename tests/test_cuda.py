"""Every CUDA path, run where a GPU is present (skipped, and saying so, elsewhere):
``scripts/gpu_check.py`` runs these first. The CPU suite proves the same code paths on a CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from textlab.text import TokenizerOptions
from textlab.w2v.corpus import encode_corpus

from .w2v.helpers import write_planted

pytestmark = pytest.mark.cuda
CUDA = torch.device("cuda")


def _planted(tmp_path):
    return encode_corpus(write_planted(tmp_path / "planted.txt"), TokenizerOptions(lang="none"), min_count=1,
                         log=lambda line: None)


def _device_engine(corpus, config, mode):
    from textlab.w2v.engine import DeviceEngine
    from textlab.w2v.model import Word2Vec
    from textlab.w2v.sampling import NoiseSampler, keep_probabilities
    from textlab.w2v.plan import Plan

    plan = Plan(chunks=1, items=1, total_words=corpus.num_words, workers=1, first=0, last=corpus.num_positions)
    return DeviceEngine(Word2Vec(config), corpus, keep_probabilities(corpus.vocab.counts, config.sample),
                        NoiseSampler(corpus.vocab.counts), plan, mode=mode, device=CUDA)


@pytest.mark.parametrize("mode", ["compiled", "eager"])
@pytest.mark.parametrize("resident", [True, False])
@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_device_engine_trains_on_the_gpu_without_syncing_inside_a_chunk(tmp_path, arch, resident, mode, monkeypatch):
    from textlab.w2v.compiled import StepRunner
    from textlab.w2v.engine import DeviceEngine
    from textlab.w2v.keyed_vectors import KeyedVectors
    from textlab.w2v.model import Word2Vec, Word2VecConfig
    from textlab.w2v.train import train

    if not resident:  # the id file streamed through pinned memory instead of uploaded whole
        monkeypatch.setattr(DeviceEngine, "RESIDENT_SHARE", 0.0)
    corpus = _planted(tmp_path)
    config = Word2VecConfig(arch=arch, dim=24, window=3, min_count=1, sample=0.0, epochs=4, batch_size=256, seed=3,
                            lr=0.025 if arch == "skipgram" else 0.05, vocab_size=len(corpus.vocab), compile=mode)
    model = Word2Vec(config)
    steps = []

    def strict(original):
        def run(self, *args):  # any implicit device-to-host copy raises
            torch.cuda.set_sync_debug_mode("error")
            try:
                return original(self, *args)
            finally:
                torch.cuda.set_sync_debug_mode(0)
        return run

    monkeypatch.setattr(StepRunner, "__call__", strict(StepRunner.__call__))
    monkeypatch.setattr(DeviceEngine, "load", strict(DeviceEngine.load))
    original_init = StepRunner.__init__

    def recording_init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        steps.append(self)

    monkeypatch.setattr(StepRunner, "__init__", recording_init)
    initial = model.vectors.copy()
    train(model, corpus, engine="device", device=CUDA)
    assert (steps[0].graph is not None) == (mode == "compiled")  # compiled on CUDA: a captured CUDA graph
    assert steps[0].args[0].device.type == "cuda"  # trained there; the model's arrays got the result back
    assert np.isfinite(model.vectors).all() and not np.array_equal(model.vectors, initial)
    vectors = KeyedVectors(corpus.vocab.words, model.vectors)
    assert vectors.analogy("king", "man", "woman", k=1)[0][0] == "queen"


@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_the_captured_cuda_graph_replays_the_eager_steps(tmp_path, arch):
    """One chunk, step by step: the graph replays advance the same buffers as the eager step,
    to the same matrices (up to the order of floating-point atomic adds)."""
    from textlab.w2v.model import Word2VecConfig

    corpus = _planted(tmp_path)
    config = Word2VecConfig(arch=arch, dim=24, window=3, min_count=1, sample=0.0, epochs=1, batch_size=256, seed=3,
                            vocab_size=len(corpus.vocab))  # the shapes of the test above: its compiled step is cached
    engines = {mode: _device_engine(corpus, config, mode) for mode in ("eager", "compiled")}
    assert engines["compiled"].run_step.graph is not None and engines["eager"].run_step.graph is None
    for engine in engines.values():
        loss, pairs, _ = engine.train_item(0, 0.05, 0.01)
        engine.result = (float(loss), int(pairs), int(engine.counter[0]))
    eager, compiled = engines["eager"], engines["compiled"]
    assert compiled.result[1:] == eager.result[1:] and compiled.result[2] >= compiled.step_size
    assert compiled.result[0] == pytest.approx(eager.result[0], rel=1e-4)
    torch.testing.assert_close(compiled.vectors, eager.vectors, atol=1e-5, rtol=1e-3)
    torch.testing.assert_close(compiled.context, eager.context, atol=1e-5, rtol=1e-3)


def test_train_w2v_auto_picks_the_device_engine_on_the_gpu(tmp_path, cli):
    corpus = write_planted(tmp_path / "planted.txt")
    result = cli("train-w2v", str(corpus), "--lang", "none", "--min-count", "1", "--epochs", "2", "-o",
                 str(tmp_path / "m"), "--json")
    assert result.exit_code == 0, result.stderr
    assert "on cuda" in result.stderr and "device engine" in result.stderr


def test_char_lstm_trains_in_fp16_with_a_scaler_and_resumes_exactly(tmp_path):
    from textlab.charlm.data import load_char_data, unigram_entropy
    from textlab.charlm.model import CharLMConfig, rnn_compute_dtype
    from textlab.charlm.train import TrainConfig, train_charlm
    from textlab.errors import TrainingInterrupted

    from .charlm.conftest import StopAfter

    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat. a dog ate my homework.\n" * 400)
    data = load_char_data(str(corpus), 0.1)
    model_config = CharLMConfig(vocab_size=len(data.alphabet), embed_dim=16, hidden=64, layers=2, dropout=0.1)
    config = TrainConfig(seq_len=32, batch_size=8, epochs=2, lr=1e-2, warmup_steps=5, precision="fp16", seed=3)
    straight = train_charlm(data, model_config, config, CUDA, log=lambda line: None)
    assert rnn_compute_dtype(straight.model, CUDA, "fp16") == "float16"
    assert straight.metrics["val_loss"] < 0.5 * unigram_entropy(data.train)
    assert all(p.dtype == torch.float32 for p in straight.model.parameters())

    with pytest.raises(TrainingInterrupted):
        train_charlm(data, model_config, config, CUDA, checkpoint_dir=tmp_path / "ckpt", stop=StopAfter(3),
                     log=lambda line: None)
    resumed = train_charlm(data, model_config, config, CUDA, checkpoint_dir=tmp_path / "ckpt", resume=True,
                           log=lambda line: None)
    assert resumed.metrics["val_loss"] == pytest.approx(straight.metrics["val_loss"], rel=1e-4)


def test_generate_and_eval_on_a_gpu_trained_model(tmp_path, cli):
    corpus = tmp_path / "c.txt"
    corpus.write_text("to be or not to be, that is the question.\n" * 300)
    result = cli("train-charlm", str(corpus), "--epochs", "1", "--hidden", "64", "--layers", "1", "--batch-size", "8",
                 "--seq-len", "32", "-o", str(tmp_path / "m"))
    assert result.exit_code == 0, result.stderr
    sample = cli("generate", "--model", str(tmp_path / "m"), "--seed", "to", "--len", "50", "--random-seed", "1")
    assert sample.exit_code == 0 and sample.stdout.startswith("to") and len(sample.stdout) == 53
    measured = cli("eval-charlm", "--model", str(tmp_path / "m"), str(corpus), "--json")
    assert measured.exit_code == 0, measured.stderr
