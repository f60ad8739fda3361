"""The word LM's commands: train-lm saves a model with its card, vocabulary and curve; eval-lm
measures a text against the unigram baseline; generate samples words from it; bad inputs get
one line."""

from __future__ import annotations

import json
import math

import pytest
import torch

from tests.robustness.answers import check_eval_lm, check_wordlm_model, refused, succeeded
from textlab.errors import TrainingInterrupted
from textlab.wordlm.pipeline import train_lm_job

from .conftest import TINY_CLI, StopAfter, grammar_lines


@pytest.fixture
def trained(cli, grammar_file, textlab_home):
    result = cli("train-lm", str(grammar_file), "--epochs", "3", *TINY_CLI, "-o", "tiny")
    succeeded(result, "train-lm")
    return textlab_home / "models" / "tiny"


def test_train_lm_saves_a_model_that_beats_its_unigram_baseline(trained, cli):
    card = check_wordlm_model(trained)
    metrics = card["metrics"]
    assert metrics["val_perplexity"] < metrics["val_unigram_perplexity"]
    assert metrics["train_tokens_per_s"] > 0 and metrics["precision"] == "fp32"
    assert card["config"]["lang"] == "en" and card["data"]["valid_documents"] == 12
    assert (trained / "curve.png").stat().st_size > 1000
    listed = [m for m in json.loads(cli("models", "--json").stdout) if m["name"] == "tiny"]
    assert listed[0]["kind"] == "wordlm" and listed[0]["summary"].startswith("val ppl ")


def test_eval_lm_reports_perplexity_beside_the_unigram_baseline(trained, cli, tmp_path):
    held_out = tmp_path / "held_out.txt"
    held_out.write_text("\n".join(grammar_lines(40, seed=9)) + "\nthe unicorn liked zebras .\n", encoding="utf-8")
    result = cli("eval-lm", str(held_out), "--json")  # the store's newest English word LM answers
    assert result.stderr.startswith("using tiny (wordlm, English, newest in the store)")
    check_eval_lm(result, "eval-lm", held_out.read_bytes(), trained, "tiny")
    figures = json.loads(result.stdout)
    assert figures["documents"] == 41 and figures["unk_rate"] > 0
    assert figures["perplexity"] < figures["unigram_perplexity"]
    text = cli("eval-lm", str(held_out), "--model", str(trained))
    assert text.exit_code == 0 and text.stdout.startswith("perplexity ") and "unigram" in text.stdout
    assert "warning" not in text.stderr


def test_eval_lm_of_another_language_is_measured_and_said(trained, cli, tmp_path):
    chinese = tmp_path / "zh.txt"
    chinese.write_text("这家酒店服务很好\n房间很干净\n", encoding="utf-8")
    result = cli("eval-lm", str(chinese), "--model", str(trained), "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["unk_rate"] == 1.0
    assert f"warning: the text reads as zh, {trained} is a word LM of en" in result.stderr


def test_generate_samples_words_from_a_word_model(trained, cli):
    from textlab.text import Vocab

    vocab = set(Vocab.load(trained / "vocab.tsv").words[3:])
    first = cli("generate", "--model", str(trained), "--seed", "the cat", "--len", "12", "--random-seed", "4")
    again = cli("generate", "--model", str(trained), "--seed", "the cat", "--len", "12", "--random-seed", "4")
    succeeded(first, "generate")
    assert first.stdout == again.stdout and first.stdout.startswith("the cat")
    words = first.stdout.split()[2:]
    assert len(words) <= 12 and set(words) <= vocab  # stops early at a sampled end of document
    streamed = cli("generate", "--model", str(trained), "--seed", "the cat", "--len", "12", "--random-seed", "4",
                   "--stream")
    assert streamed.stdout == first.stdout
    unseeded = cli("generate", "--model", str(trained), "--len", "5", "--top-k", "3", "--random-seed", "1")
    assert unseeded.exit_code == 0 and set(unseeded.stdout.split()) <= vocab and len(unseeded.stdout.split()) <= 5
    unknown = cli("generate", "--model", str(trained), "--seed", "the unicorn", "--len", "3")
    assert unknown.exit_code == 0 and "'unicorn'" in unknown.stderr and "read as <unk>" in unknown.stderr


@pytest.mark.parametrize("args, message", [
    (["generate", "--seed", "!!!", "--len", "3"], "holds no words"),
    (["generate", "--seed", "the", "--temperature", "0"], "Invalid value for '--temperature'"),
    (["eval-charlm", "{corpus}"], "is a wordlm model, not a charlm model"),
])
def test_bad_requests_to_a_word_model_are_one_line(trained, cli, grammar_file, args, message):
    args = [a.format(corpus=grammar_file) for a in args]
    refused(cli(*args, "--model", str(trained)), args, message)


def test_bad_corpora_and_other_kinds_are_refused_in_one_line(cli, tmp_path, grammar_file):
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    refused(cli("train-lm", str(empty), *TINY_CLI, "-o", str(tmp_path / "m")), "empty", "holds no words")
    assert not (tmp_path / "m").exists()
    lm = tmp_path / "charlm"
    succeeded(cli("train-charlm", str(grammar_file), "--epochs", "1", "--hidden", "8", "--layers", "1",
                  "--seq-len", "8", "--batch-size", "4", "-o", str(lm)), "train-charlm")
    refused(cli("eval-lm", str(grammar_file), "--model", str(lm)), "charlm", "is a charlm model, not a wordlm model")
    # no word LM in the store: English text goes to the shipped review LM, other languages are refused
    answered = cli("eval-lm", str(grammar_file), "--json")
    succeeded(answered, "shipped LM")
    assert json.loads(answered.stdout)["model"] == "shipped:imdb"
    chinese = tmp_path / "zh.txt"
    chinese.write_text("这家酒店服务很好\n房间很干净\n", encoding="utf-8")
    refused(cli("eval-lm", str(chinese)), "no zh model", "no word LM of the text's language (zh) yet")


def test_resume_applies_how_long_and_refuses_what_defines_the_model(cli, tmp_path, grammar_file):
    model = tmp_path / "lm"
    settings = dict(lang="en", vocab_size=100, valid_fraction=0.05, valid_data=None)
    with pytest.raises(TrainingInterrupted):
        train_lm_job(str(grammar_file), model, data_settings=settings, epochs=1, precision="fp32",
                     device=torch.device("cpu"), overrides=dict(embed_dim=16, hidden=32, seq_len=16, batch_size=8),
                     stop=StopAfter(5), log=lambda s: None)
    line = refused(cli("train-lm", str(grammar_file), "--resume", "--hidden", "64", "--vocab-size", "50",
                       "-o", str(model)), "resume", "cannot change")
    assert "--hidden (the run was started with 32)" in line and "--vocab-size (the run was started with 100)" in line
    result = cli("train-lm", str(grammar_file), "--resume", "--epochs", "2", "--vocab-size", "100", "-o", str(model))
    succeeded(result, "resume")
    assert "applied on resume: --epochs 2" in result.stderr
    card = check_wordlm_model(model)
    assert card["metrics"]["epochs"] == pytest.approx(2.0) and math.isfinite(card["metrics"]["val_loss"])
