"""``generate``'s numpy sampler reads the saved char LM and computes the torch model's logits;
its draws follow the softmax (temperature, top-k) and repeat for the same random seed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from textlab.charlm.light import LightCharLM, generate
from textlab.charlm.model import CharLM, CharLMConfig
from textlab.charlm.parts import tensor_layout
from textlab.charlm.saving import load_charlm, save_charlm
from textlab.errors import DataError
from textlab.lm.sampling import draw_array
from textlab.store.shipped import shipped_model

ALPHABET = list("abcdefgh \n")


@pytest.mark.parametrize("config", [
    CharLMConfig(vocab_size=10, cell="lstm", embed_dim=6, hidden=8, layers=2),
    CharLMConfig(vocab_size=10, cell="gru", embed_dim=8, hidden=8, layers=1, tie_weights=True),
    CharLMConfig(vocab_size=10, cell="rnn", embed_dim=5, hidden=7, layers=3),
], ids=["lstm-2", "gru-tied", "rnn-3"])
def test_numpy_logits_equal_torch_logits_across_calls(tmp_path, config):
    torch.manual_seed(0)
    model = CharLM(config).eval()
    assert tensor_layout(config) == model.tensor_shapes()
    path = save_charlm(tmp_path / "m", model, ALPHABET, data={}, metrics={}, settings={})
    loaded, codec, _ = load_charlm(path)  # the stored (float16) weights, as generate reads them
    light = LightCharLM(path)
    seed, more = codec.encode("abc hg\nfe"), codec.encode("dd a")
    with torch.no_grad():
        expected, _, state = loaded(torch.as_tensor(seed, dtype=torch.int64)[None])
        expected_more, _, _ = loaded(torch.as_tensor(more, dtype=torch.int64)[None], state=state)
    got, light_state = light.logits(seed)
    got_more, _ = light.logits(more, light_state)  # the state carries over, as in sampling
    np.testing.assert_allclose(got, expected[0].numpy(), atol=1e-5)
    np.testing.assert_allclose(got_more, expected_more[0].numpy(), atol=1e-5)


def test_draws_follow_the_softmax_and_respect_top_k():
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    rng = np.random.default_rng(0)
    counts = np.bincount([draw_array(logits, 1.0, None, rng) for _ in range(20_000)], minlength=4) / 20_000
    np.testing.assert_allclose(counts, [0.5, 0.3, 0.15, 0.05], atol=0.015)
    assert {draw_array(logits, 1.0, 2, rng) for _ in range(2_000)} == {0, 1}
    cold = [draw_array(logits, 0.05, None, rng) for _ in range(500)]
    assert cold.count(0) > 490  # a low temperature picks the likeliest
    assert {draw_array(np.array([-np.inf, 0.0, -np.inf]), 1.0, None, rng) for _ in range(200)} == {1}


def test_the_shipped_model_writes_shakespeare_like_text_the_same_for_the_same_seed():
    light = LightCharLM(shipped_model("charlm", "shakespeare"))
    first = generate(light, "ROMEO:", 300, rng=np.random.default_rng(5))
    assert first == generate(light, "ROMEO:", 300, rng=np.random.default_rng(5))
    assert first != generate(light, "ROMEO:", 300, rng=np.random.default_rng(6))
    words = first.split()
    assert len(first) == len("ROMEO:") + 300 and "\n" in first
    assert sum(w.strip(".,;:!?'").lower() in {"the", "and", "i", "to", "of", "you", "my", "a", "that", "is"}
               for w in words) >= 5


def test_a_seed_outside_the_alphabet_is_refused_by_name():
    light = LightCharLM(shipped_model("charlm", "shakespeare"))
    with pytest.raises(DataError, match="'é'"):
        generate(light, "café", 10)


def test_sampling_runs_numpy_on_one_blas_thread(monkeypatch):
    """One small product a character: beside a busy process, OpenBLAS's second thread made
    `generate --len 1000` 18x slower (8.3 s against 0.46 s at load 3), so the loop takes one."""
    from threadpoolctl import threadpool_info, threadpool_limits

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("TEXTLAB_THREADS", raising=False)
    light = LightCharLM(shipped_model("charlm", "shakespeare"))
    seen = []
    logits = light.logits

    def recording(ids, state=None):
        seen.append({pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"})
        return logits(ids, state)

    light.logits = recording
    with threadpool_limits(limits=2, user_api="blas"):
        generate(light, "ROMEO:", 5, rng=np.random.default_rng(0))
        after = {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}
    assert seen and all(threads == {1} for threads in seen)
    assert after == {2}  # restored
