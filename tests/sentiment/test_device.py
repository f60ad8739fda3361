"""Device correctness: the training step loops read nothing back from the device (counted on
the CPU, see host_reads.py), and on CUDA (tests marked ``cuda``, skipped without a GPU) training
with --pretrained-w2v, the n-gram branch and inference run on the device and agree with the CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import textlab.sentiment.linear as linear
import textlab.sentiment.neural_phase as neural_module
import textlab.sentiment.train as train_module
from tests.sentiment.host_reads import count_host_reads
from tests.sentiment.test_sentiment import EN_NEG, EN_POS, tiny_config, write_csv
from textlab.sentiment.config import TrainSettings



def test_neural_step_loop_reads_the_loss_only_every_n_steps(tmp_path, monkeypatch):
    data = write_csv(tmp_path / "d.csv", EN_POS, EN_NEG, n=300)  # 600 reviews: 540 train -> 135 steps of 4
    settings = TrainSettings(epochs=1, batch_size=4, warmup_steps=5, seed=1, device="cpu")
    with count_host_reads(monkeypatch, [(neural_module, "neural_epoch_steps")]) as counter:
        train_module.train_sentiment(str(data), tiny_config("en"), settings, tmp_path / "m")
    steps = -(-540 // 4)
    assert steps > 2 * neural_module.LOSS_READ_EVERY
    # exactly the scheduled reads of the summed loss (float() of it), nothing per step
    assert counter.reads == ["aten._local_scalar_dense.default"] * (steps // neural_module.LOSS_READ_EVERY)


def test_ngram_branch_step_loop_reads_the_loss_only_every_n_steps(monkeypatch):
    rng = np.random.default_rng(0)
    bags = [np.unique(rng.integers(0, 1000, 20)).astype(np.int32) for _ in range(240)]
    labels = [int(x) for x in rng.integers(0, 2, 240)]
    settings = linear.LinearSettings(epochs=1, batch_size=2, learning_rates=(0.01,))
    with count_host_reads(monkeypatch, [(linear, "_epoch")]) as counter:
        model, info = linear.train_linear(bags, labels, bags[:20], labels[:20], 1000, settings)
    assert model is not None and info["epochs_run"] == {"0.01": 1}
    assert counter.reads == ["aten._local_scalar_dense.default"] * (120 // 50)


def test_the_counter_catches_a_per_step_read(tmp_path, monkeypatch):
    """The counter is not blind: a loss.item() per step (the old loop) is seen every step."""
    real_add = linear.RunningLoss.add
    monkeypatch.setattr(linear.RunningLoss, "add", lambda self, loss: (loss.item(), real_add(self, loss)))
    data = write_csv(tmp_path / "d.csv", EN_POS, EN_NEG, n=30)
    settings = TrainSettings(epochs=1, batch_size=4, warmup_steps=5, device="cpu")
    with count_host_reads(monkeypatch, [(neural_module, "neural_epoch_steps")]) as counter:
        train_module.train_sentiment(str(data), tiny_config("en"), settings, tmp_path / "m")
    assert len(counter.reads) >= -(-54 // 4)


def test_batches_are_sorted_for_packing_and_pinned_only_for_cuda():
    from textlab.sentiment.data import collate

    batch = collate([np.arange(2, 5), np.arange(2, 9), np.arange(2, 3)], [np.array([1])] * 3, [1, 0, 1],
                    words=[3, 7, 1])
    assert batch.lengths.tolist() == [7, 3, 1] and batch.order.tolist() == [1, 0, 2]
    assert batch.targets.tolist() == [0.0, 1.0, 1.0] and batch.words.tolist() == [7.0, 3.0, 1.0]
    assert not batch.ids.is_pinned()  # pinning needs a CUDA runtime; only batches bound for CUDA are pinned




def _w2v(tmp_path):
    from textlab.store.cards import ModelCard
    from textlab.store.files import save_model
    from textlab.text import Vocab

    words = sorted({w for line in EN_POS + EN_NEG for w in line.split()})
    vocab = Vocab(words, [5] * len(words))
    vectors = torch.randn(len(words), 16)
    return save_model(tmp_path / "w2v", ModelCard(kind="word2vec", config={"dim": 16}), {"vectors": vectors},
                      vocab_tsv=vocab.to_tsv())


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_training_with_word2vec_and_inference_match_cpu(tmp_path):
    from textlab.sentiment.predict import Predictor, Router, parallel_probabilities
    from textlab.sentiment.saved import load_sentiment

    data = write_csv(tmp_path / "d.csv", EN_POS, EN_NEG)
    config = tiny_config("en")
    settings = TrainSettings(epochs=15, batch_size=32, learning_rate=5e-3, warmup_steps=5, device="cuda")
    train_module.train_sentiment(str(data), config, settings, tmp_path / "m", pretrained_w2v=str(_w2v(tmp_path)))
    card = __import__("json").loads((tmp_path / "m" / "config.json").read_text())
    assert card["metrics"]["device"].startswith("cuda") and card["data"]["pretrained_w2v"]["covered"] > 0
    assert card["metrics"]["valid_accuracy"] >= 0.9
    lines = ["what a wonderful and moving film", "awful, boring and dull", "great acting, i loved it"] * 200
    cpu = Router({"en": Predictor(load_sentiment(tmp_path / "m"), device="cpu")}).probabilities(lines)
    cuda_router = Router({"en": Predictor(load_sentiment(tmp_path / "m"), device="cuda")})
    assert next(cuda_router.predictors["en"].model.parameters()).is_cuda
    streamed = [p for _, ps in parallel_probabilities(cuda_router, iter([lines[:256], lines[256:]]), workers=2)
                for p in ps]
    np.testing.assert_allclose(streamed, cpu, atol=1e-3)
    assert streamed[0] > 0.5 > streamed[1]


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_step_loops_do_not_synchronise(tmp_path, monkeypatch, recwarn):
    """torch's own sync detector, on the device: the step loops synchronise only for the
    scheduled loss reads."""
    def watched(real):
        def run(*args, **kwargs):
            torch.cuda.set_sync_debug_mode("warn")
            try:
                return real(*args, **kwargs)
            finally:
                torch.cuda.set_sync_debug_mode("default")
        return run

    monkeypatch.setattr(neural_module, "neural_epoch_steps", watched(neural_module.neural_epoch_steps))
    monkeypatch.setattr(linear, "_epoch", watched(linear._epoch))
    data = write_csv(tmp_path / "d.csv", EN_POS, EN_NEG, n=300)
    settings = TrainSettings(epochs=1, batch_size=4, warmup_steps=5, device="cuda")
    train_module.train_sentiment(str(data), tiny_config("en"), settings, tmp_path / "m")
    syncs = [w for w in recwarn if "synchroniz" in str(w.message).lower()]
    assert len(syncs) == -(-540 // 4) // neural_module.LOSS_READ_EVERY, [str(w.message) for w in syncs[:5]]


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_check_runs_on_cuda():
    from textlab.sentiment import gpu_check

    result = gpu_check("cuda", train_reviews=2000, epochs=1, inference_reviews=5000)
    assert result["device"].startswith("cuda") and result["inference_reviews"] == 5000
    assert result["train_seconds_per_epoch"] > 0 and result["inference_reviews_per_second"] > 0


def test_gpu_check_runs_on_cpu():
    from textlab.sentiment import gpu_check

    small = dict(hidden=8, embed_dim=8, max_len=32, head_len=8, bag_buckets=500, ngram_branch_buckets=1 << 14,
                 vocab_size=2002)
    result = gpu_check("cpu", train_reviews=400, epochs=1, inference_reviews=300, config_overrides=small, workers=1)
    assert result["device"] == "cpu" and result["inference_reviews"] == 300 and result["train_reviews"] == 400
    for key in ("train_seconds_per_epoch", "ngram_branch_seconds", "inference_reviews_per_second",
                "scoring_reviews_per_second"):
        assert result[key] > 0, key
    assert 0.0 <= result["valid_ece"] <= 1.0 and result["goal_reviews_per_second"] == 20_000


def test_the_gpu_pipeline_order_on_the_cpu(en_model, monkeypatch):
    """The CUDA path of parallel_probabilities (workers encode, this process scores what is
    ready in one go) run on the CPU: same answers, input order, flush markers kept."""
    from textlab.sentiment.predict import Predictor, Router, parallel_probabilities
    from textlab.sentiment.saved import load_sentiment

    router = Router({"en": Predictor(load_sentiment(en_model))})
    lines = [EN_POS[i % len(EN_POS)] if i % 3 else EN_NEG[i % len(EN_NEG)] for i in range(90)]
    expected = router.probabilities(lines)
    batches = [lines[:7], None, lines[7:40], lines[40:41], None, lines[41:]]
    monkeypatch.setattr(Router, "on_cpu", lambda self: False)
    out = list(parallel_probabilities(router, iter(batches), workers=2, in_flight=2))
    assert [batch for batch, _ in out] == [b for b in batches if b is not None]
    np.testing.assert_allclose([p for _, ps in out for p in ps], expected, atol=1e-6)
