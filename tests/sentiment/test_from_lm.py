"""--from-lm: a classifier that starts from a word LM takes its vocabulary (its words in its
order after <pad>, <unk>), its embedding rows and LSTM weights and its shape (options that
differ are named), refuses an LM of another language or a damaged one in one line, records
the LM in the card and resumes exactly."""

from __future__ import annotations

import json
import shutil
from contextlib import contextmanager

import pytest
import torch
from safetensors.torch import load_file

import textlab.sentiment.train as train_module
from tests.robustness.answers import refused, succeeded
from tests.sentiment.test_rules import StopAfter
from tests.sentiment.test_sentiment import EN_NEG, EN_POS, ZH_NEG, ZH_POS, write_csv
from textlab.sentiment.lm_init import init_from_lm, lm_rows, read_lm
from textlab.sentiment.model import SentimentModel
from textlab.sentiment.config import SentimentConfig

SMALL = ["--max-len", "20", "--bag-buckets", "500", "--ngram-branch-buckets", "4096", "--lang", "en"]


@pytest.fixture(scope="module")
def word_lm(tmp_path_factory):
    """A tiny English word LM (16-dim embedding, 32-unit LSTM) on text with the reviews' words."""
    from textlab.wordlm.pipeline import train_lm_job

    root = tmp_path_factory.mktemp("wordlm")
    corpus = root / "text.txt"
    lines = [f"{a} . {b} ." for a in EN_POS + EN_NEG for b in EN_NEG + EN_POS]
    corpus.write_text("\n".join(lines * 2) + "\n", encoding="utf-8")
    train_lm_job(str(corpus), root / "lm", data_settings=dict(lang="en", vocab_size=200, valid_fraction=0.1,
                                                              valid_data=None),
                 epochs=1, precision="fp32", device=torch.device("cpu"),
                 overrides=dict(embed_dim=16, hidden=32, seq_len=16, batch_size=8), log=lambda s: None)
    return root / "lm"


def test_weights_and_vocabulary_are_the_lms(word_lm):
    lm = read_lm(str(word_lm))
    lm_words = (word_lm / "vocab.tsv").read_text(encoding="utf-8").splitlines()
    assert lm.vocab.words[:2] == ["<pad>", "<unk>"] and [w.split("\t")[0] for w in lm_words[3:]] == lm.vocab.words[2:]
    config = SentimentConfig(lang="en", cell="lstm", bidirectional=False, vocab_size=len(lm.vocab), embed_dim=16,
                             hidden=32, bag_buckets=0, ngram_branch_buckets=0, pooling="last+max+mean")
    model = SentimentModel(config)
    record = init_from_lm(model, lm)
    weights = load_file(str(word_lm / "weights.safetensors"))
    assert torch.equal(model.embedding.weight[0], torch.zeros(16))  # <pad> stays zero
    assert torch.equal(model.embedding.weight[1], weights["embed.weight"][1])  # <unk>
    assert torch.equal(model.embedding.weight[2:], weights["embed.weight"][3:])  # the words, <eos> dropped
    assert torch.equal(lm_rows(len(lm.vocab))[:3], torch.tensor([1, 3, 4]))
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        assert torch.equal(getattr(model.rnn, name), weights[f"rnn.{name}"])
    assert record["words"] == len(lm.vocab) - 2 and record["model"] == str(word_lm)


def test_from_lm_separates_obvious_reviews_names_conflicts_and_records_the_lm(cli, tmp_path, word_lm):
    data = write_csv(tmp_path / "d.csv", EN_POS, EN_NEG, n=60)
    result = cli("train-sentiment", str(data), "--from-lm", str(word_lm), *SMALL, "--epochs", "6",
                 "--hidden", "64", "--bidirectional", "--vocab-size", "50", "-o", str(tmp_path / "m"))
    assert result.exit_code == 0, result.stderr
    notice = result.stderr.replace("\n", " ")
    assert "--hidden 64 (the LM's: 32)" in notice and "--bidirectional True (the LM's: False)" in notice
    assert "--vocab-size 50 (the LM's:" in notice and "--embed-dim" not in notice  # not given: nothing to name
    assert "first sentence" in result.stderr and "last sentence" in result.stderr
    card = json.loads((tmp_path / "m" / "config.json").read_text())
    config, metrics = card["config"], card["metrics"]
    assert (config["hidden"], config["embed_dim"], config["bidirectional"], config["pooling"]) == \
        (32, 16, False, "last+max+mean")
    assert config["dropout"] == 0.3 and card["extra"]["training"]["sentence_crops"] == 0.5
    assert card["data"]["from_lm"]["model"] == str(word_lm) and card["data"]["from_lm"]["words"] == config["vocab_size"] - 2
    assert {"valid_accuracy_first_sentence", "valid_accuracy_last_sentence"} <= set(metrics)
    out = cli("sentiment", "--model", str(tmp_path / "m"), "a wonderful moving film , i loved it",
              "awful acting and a dull story , i hated it").stdout.splitlines()
    assert out[0].startswith("positive\t") and out[1].startswith("negative\t"), out


def test_an_lm_of_another_language_or_a_damaged_one_is_refused_by_name(cli, tmp_path, word_lm):
    zh = write_csv(tmp_path / "zh.csv", ZH_POS, ZH_NEG, n=20, joiner="")
    line = refused(cli("train-sentiment", str(zh), "--from-lm", str(word_lm), "-o", str(tmp_path / "m")),
                   "zh with an en LM", "reads en text")
    assert str(word_lm) in line
    data = write_csv(tmp_path / "d.csv", EN_POS, EN_NEG, n=20)
    refused(cli("train-sentiment", str(data), "--from-lm", "no-such-lm", "-o", str(tmp_path / "m")),
            "missing LM", "no model named 'no-such-lm'")
    damaged = shutil.copytree(word_lm, tmp_path / "damaged")
    weights = damaged / "weights.safetensors"
    raw = bytearray(weights.read_bytes())
    raw[-5] ^= 0xFF
    weights.write_bytes(bytes(raw))
    line = refused(cli("train-sentiment", str(data), "--from-lm", str(damaged), "-o", str(tmp_path / "m")),
                   "damaged LM", "weights.safetensors")
    assert "damaged" in line
    assert not (tmp_path / "m").exists()


def test_a_from_lm_run_resumes_exactly(cli, monkeypatch, tmp_path, word_lm):
    data = write_csv(tmp_path / "d.csv", EN_POS, EN_NEG, n=60)
    args = [str(data), "--from-lm", str(word_lm), *SMALL, "--epochs", "3"]
    succeeded(cli("train-sentiment", *args, "-o", str(tmp_path / "whole")), "uninterrupted")

    @contextmanager
    def stop_soon():  # 108 training reviews + 54 crops: 3 batches an epoch; the n-gram branch polls 9 times
        yield StopAfter(13)

    with monkeypatch.context() as patch:
        patch.setattr(train_module, "graceful_stop", stop_soon)
        stopped = cli("train-sentiment", *args, "-o", str(tmp_path / "m"))
    assert stopped.exit_code == 130 and (tmp_path / "m.ckpt").is_dir(), stopped.stderr
    other = shutil.copytree(word_lm, tmp_path / "other-lm")
    line = refused(cli("train-sentiment", str(data), "--from-lm", str(other), "--resume", "-o", str(tmp_path / "m")),
                   "another LM on resume", "--from-lm (the run was started with")
    assert str(word_lm) in line
    resumed = cli("train-sentiment", str(data), "--resume", "-o", str(tmp_path / "m"))
    assert resumed.exit_code == 0 and "resuming at epoch 2" in resumed.stderr, resumed.stderr
    assert "initialised from the word LM" not in resumed.stderr  # the checkpoint holds the weights

    whole, part = (load_file(str(tmp_path / name / "weights.safetensors")) for name in ("whole", "m"))

    assert whole.keys() == part.keys() and [k for k in whole if not torch.equal(whole[k], part[k])] == []
    cards = [json.loads((tmp_path / name / "config.json").read_text()) for name in ("whole", "m")]
    strip = [{k: h[k] for k in ("epoch", "valid_accuracy", "valid_loss")} for h in cards[0]["metrics"]["history"]]
    assert strip == [{k: h[k] for k in ("epoch", "valid_accuracy", "valid_loss")} for h in cards[1]["metrics"]["history"]]
    for key in ("valid_accuracy", "valid_accuracy_first_sentence", "valid_accuracy_last_sentence", "mix"):
        assert cards[0]["metrics"][key] == cards[1]["metrics"][key]
    assert cards[1]["data"]["from_lm"] == cards[0]["data"]["from_lm"]
