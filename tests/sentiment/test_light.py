"""The numpy scorer (a few lines, no torch) gives the torch model's probabilities: on the shipped
models, and on random models of every cell and shape the config allows."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from textlab.errors import DataError
from textlab.sentiment.config import SentimentConfig
from textlab.sentiment.light import LightPredictor
from textlab.sentiment.model import SentimentModel
from textlab.sentiment.parts import tensor_layout
from textlab.sentiment.predict import Predictor
from textlab.sentiment.saved import load_sentiment, save_sentiment
from textlab.store.shipped import shipped_model
from textlab.text import PAD, UNK, Vocab

TEXTS = {
    "en": ["A wonderful, moving film.", "x", "Terrible. I walked out after twenty minutes.",
           "The plot <br /><br /> was thin but the acting saved it: great performances everywhere. " * 12,
           "not bad at all", "zzzz qqqq unknownword"],
    "zh": ["酒店很干净，服务也很好。", "房间太小了，而且很吵。", "一般", "good hotel"],
}

SHAPES = [
    dict(cell="lstm", bidirectional=True, layers=1),
    dict(cell="lstm", bidirectional=False, layers=2),
    dict(cell="gru", bidirectional=True, layers=2),
    dict(cell="rnn", bidirectional=True, layers=1, bag_buckets=0),
    dict(cell="lstm", bidirectional=True, layers=1, ngram_branch_buckets=0),
    dict(cell="gru", bidirectional=False, layers=1, bag_buckets=0, ngram_branch_buckets=0),
    dict(cell="lstm", bidirectional=False, layers=1, pooling="last+max+mean"),  # what --from-lm trains
    dict(cell="gru", bidirectional=True, layers=2, pooling="last+max+mean"),
]


def _torch_probabilities(path, encoded):
    return np.array(Predictor(path, precision="fp32").score(encoded))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_shipped_models_score_alike_in_numpy_and_torch(lang):
    path = shipped_model("sentiment", lang)
    light = LightPredictor(path)
    encoded = [light.encode(text) for text in TEXTS[lang]]
    probabilities, order = light.launch(encoded)
    assert order.tolist() == list(range(len(encoded)))
    np.testing.assert_allclose(probabilities, _torch_probabilities(path, encoded), atol=2e-6)
    if lang == "en":  # and they are sentiment, not noise
        assert probabilities[0] > 0.5 > probabilities[2]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "-".join(f"{k}={v}" for k, v in s.items()))
def test_every_cell_and_shape_scores_alike(tmp_path, shape):
    shape = dict(shape)  # (the parameter list is shared between runs)
    words = "good great bad awful film plot acting boring fun the a was is".split()
    vocab = Vocab([PAD, UNK, *words], [0, 0, *range(len(words), 0, -1)])
    config = SentimentConfig(lang="en", vocab_size=len(vocab), embed_dim=6, hidden=5, max_len=7, head_len=2,
                             bag_buckets=shape.pop("bag_buckets", 50), bag_dim=4,
                             ngram_branch_buckets=shape.pop("ngram_branch_buckets", 300), ngram_branch_units="words",
                             **shape)
    torch.manual_seed(3)
    model = SentimentModel(config)
    with torch.no_grad():  # nonzero everywhere: the n-gram table and the mix start at zero
        for parameter in model.parameters():
            parameter.uniform_(-0.5, 0.5)
        if model.linear is not None:
            model.set_mix(torch.tensor([0.7, 1.3, -0.2, -0.4, 0.9, 0.3]))  # short-text terms too
    assert tensor_layout(config) == {name: tuple(t.shape) for name, t in model.state_dict().items()}
    path = save_sentiment(tmp_path / "model", model, vocab, data={}, metrics={})
    if model.linear is not None:  # the short-text terms travel in the card and come back
        reloaded = load_sentiment(path).model
        assert reloaded.full_mix().tolist() == pytest.approx([0.7, 1.3, -0.2, -0.4, 0.9, 0.3], abs=1e-3)
    light = LightPredictor(path)
    texts = ["good film", "the plot was boring and the acting was bad , awful", "fun", "a great great film is fun " * 3,
             "unknown words only"]
    encoded = [light.encode(text) for text in texts]
    np.testing.assert_allclose(light.launch(encoded)[0], _torch_probabilities(path, encoded), atol=2e-6)


def test_a_damaged_model_is_refused_by_name(tmp_path):
    path = shipped_model("sentiment", "en")
    copy = tmp_path / "en"
    subprocess.run(["cp", "-r", str(path), str(copy)], check=True)
    data = bytearray((copy / "weights.safetensors").read_bytes())
    data[-100] ^= 0xFF
    (copy / "weights.safetensors").write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"weights.safetensors is damaged"):
        LightPredictor(copy).load()


def test_the_scorer_imports_no_torch():
    code = ("import sys; from textlab.sentiment.light import LightPredictor; from textlab.store.shipped import "
            "shipped_model; p = LightPredictor(shipped_model('sentiment', 'en')); "
            "print(p.launch([p.encode('A fine film.')])[0][0]); assert 'torch' not in sys.modules")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert 0.0 < float(result.stdout) < 1.0
