"""The word LM: one embedding serves input and output (stored once, trained through both), it
learns far below the unigram baseline on a tiny corpus, its measurement adds up, and a run
interrupted and resumed ends exactly where an uninterrupted one does."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from safetensors import safe_open

from textlab.errors import TrainingInterrupted
from textlab.wordlm.config import TrainConfig, WordLMConfig
from textlab.wordlm.data import load_word_data
from textlab.wordlm.evaluate import evaluate_ids, unigram_perplexity
from textlab.wordlm.model import WordLM
from textlab.wordlm.pipeline import train_lm_job
from textlab.wordlm.saving import load_wordlm
from textlab.wordlm.train import train_wordlm

from .conftest import TINY_MODEL, TINY_TRAIN, StopAfter


def test_the_softmax_rows_are_the_embedding_stored_once_and_trained_through_it(tmp_path):
    model = WordLM(WordLMConfig(vocab_size=300, embed_dim=16, hidden=24, cutoffs=(20, 100)))
    head, tails = model.softmax.head, model.softmax.tail
    assert head.tied[0] is model.embed and all(tail.tied[0] is model.embed for tail in tails)
    names = list(model.state_dict())
    assert [n for n in names if model.state_dict()[n].shape[0] == 300] == ["embed.weight"]
    # a gradient through the output layer alone reaches the embedding's rows of every cluster
    features = torch.randn(6, 16)
    targets = torch.tensor([3, 10, 25, 90, 150, 299])
    model.softmax(features, targets).loss.backward()
    rows = model.embed.weight.grad.abs().sum(1)
    assert rows[[3, 10]].gt(0).all()  # shortlist rows: the head's own
    assert rows[20:100].gt(0).all() and rows[100:].gt(0).all()  # tail rows, through their low-rank maps
    # saved: one tensor for the embedding, and a reload gives the same outputs
    from textlab.wordlm.saving import save_wordlm
    from textlab.text import Vocab

    vocab = Vocab(["<pad>", "<unk>", "<eos>"] + [f"w{i}" for i in range(297)], [0, 1, 1] + [1] * 297)
    save_wordlm(tmp_path / "m", model, vocab, {}, {}, {})
    with safe_open(str(tmp_path / "m" / "weights.safetensors"), framework="pt") as handle:
        assert sorted(handle.keys()) == sorted(names)
    loaded, _, _ = load_wordlm(tmp_path / "m")
    model.eval()
    idx = torch.tensor([[2, 5, 40, 200]])
    assert torch.allclose(model.next_log_probs(idx)[0], loaded.next_log_probs(idx)[0])


def test_the_lm_beats_the_unigram_baseline_on_a_tiny_corpus(grammar_file):
    data = load_word_data(str(grammar_file), lang="en", valid_fraction=0.05)
    config = WordLMConfig(vocab_size=len(data.vocab), **TINY_MODEL)
    result, _ = train_wordlm(data, config, TrainConfig(epochs=4, **TINY_TRAIN), torch.device("cpu"), log=lambda s: None)
    unigram = unigram_perplexity(data.vocab, data.valid)
    assert unigram > 15
    assert result.metrics["val_perplexity"] < 0.4 * unigram
    # the kept model scores what the summary says; the measurement covers every target once
    again = evaluate_ids(result.model, data.valid)
    assert again["tokens"] == len(data.valid) - 1
    assert again["perplexity"] == pytest.approx(result.metrics["val_perplexity"], rel=1e-5)
    assert again["perplexity"] == pytest.approx(math.exp(again["loss"]))


def test_summed_loss_is_the_mean_loss_times_the_targets_it_counts():
    torch.manual_seed(0)
    model = WordLM(WordLMConfig(vocab_size=50, embed_dim=8, hidden=8, cutoffs=(10,))).eval()
    idx, targets = torch.randint(0, 50, (3, 7)), torch.randint(0, 50, (3, 7))
    with torch.no_grad():
        _, mean, _ = model(idx, targets)
        masked = targets.clone()
        masked[2, 3:] = -100
        total, count, _ = model.summed_loss(idx, targets)
        partial, partial_count, _ = model.summed_loss(idx, masked)
    assert int(count) == 21 and total.item() == pytest.approx(21 * mean.item(), rel=1e-5)
    assert int(partial_count) == 17 and partial.item() < total.item()


def test_an_interrupted_run_resumes_to_the_same_model(grammar_file, tmp_path):
    settings = dict(lang="en", vocab_size=30_000, valid_fraction=0.05, valid_data=None)
    overrides = dict(embed_dim=16, hidden=32, seq_len=16, batch_size=8, lr=0.01, dropout=0.2)
    common = dict(data_settings=settings, epochs=2, precision="fp32", device=torch.device("cpu"), seed=5,
                  overrides=overrides, log=lambda s: None)
    straight = train_lm_job(str(grammar_file), tmp_path / "straight", **common)
    with pytest.raises(TrainingInterrupted):
        train_lm_job(str(grammar_file), tmp_path / "resumed", stop=StopAfter(30), **common)
    assert (tmp_path / "resumed.ckpt" / "checkpoint.json").is_file()
    logs = []
    resumed = train_lm_job(str(grammar_file), tmp_path / "resumed", resume=True,
                           **{**common, "data_settings": dict(settings, lang="auto"), "log": logs.append})
    assert any(line.startswith("resuming at step 30") for line in logs)
    assert not (tmp_path / "resumed.ckpt").exists()
    assert resumed["steps"] == straight["steps"] and resumed["val_loss"] == pytest.approx(straight["val_loss"], abs=1e-6)
    a, _, _ = load_wordlm(tmp_path / "straight")
    b, _, _ = load_wordlm(tmp_path / "resumed")
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.allclose(x, y, atol=1e-6), name


def test_bf16_autocast_trains_too(grammar_file):
    data = load_word_data(str(grammar_file), lang="en", valid_fraction=0.05)
    config = WordLMConfig(vocab_size=len(data.vocab), **TINY_MODEL)
    train = TrainConfig(epochs=3, precision="bf16", **TINY_TRAIN)
    result, _ = train_wordlm(data, config, train, torch.device("cpu"), log=lambda s: None)
    assert result.metrics["precision"] == "bf16"
    assert result.metrics["val_perplexity"] < 0.5 * unigram_perplexity(data.vocab, data.valid)
    assert np.isfinite(result.metrics["val_loss"])
