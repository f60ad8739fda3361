"""Training rules: one source of defaults (--help shows the dataclasses' values), old option and
card names still read, --resume per textlab.resume, --max-minutes bounds the whole job and
--epochs every part, the saved model never below its best part on validation, torch threads
restored, and a curve with every part."""

from __future__ import annotations

import json
import re
import signal
import time
from contextlib import contextmanager
from dataclasses import fields

import numpy as np
import pytest
import torch

import textlab.sentiment.finish as finish_module
import textlab.sentiment.mix as mix_module
import textlab.sentiment.neural_phase as neural_module
import textlab.sentiment.ngram_phase as ngram_module
import textlab.sentiment.train as train_module
from tests.sentiment.test_sentiment import EN_NEG, EN_POS, tiny_config, write_csv
from textlab.errors import DataError
from textlab.sentiment.config import SPECIALS, SentimentConfig, TrainSettings

TINY = ["--vocab-size", "200", "--embed-dim", "8", "--hidden", "8", "--max-len", "20", "--bag-buckets", "500",
        "--ngram-branch-buckets", "4096", "--lang", "en"]

# CLI option -> the default it must show, read from the dataclasses
HELP_DEFAULTS = {
    "--lang": SentimentConfig.lang, "--vocab-size": SentimentConfig.vocab_size - SPECIALS,
    "--max-len": SentimentConfig.max_len, "--cell": SentimentConfig.cell, "--embed-dim": SentimentConfig.embed_dim,
    "--hidden": SentimentConfig.hidden, "--layers": SentimentConfig.layers, "--dropout": SentimentConfig.dropout,
    "--bag-buckets": SentimentConfig.bag_buckets, "--ngram-branch-buckets": SentimentConfig.ngram_branch_buckets,
    "--ngram-branch-units": SentimentConfig.ngram_branch_units, "--pooling": SentimentConfig.pooling,
    "--sentence-crops": TrainSettings.sentence_crops, "--epochs": TrainSettings.epochs,
    "--valid-fraction": TrainSettings.valid_fraction, "--device": TrainSettings.device, "--seed": TrainSettings.seed,
}


def test_help_shows_the_dataclass_defaults(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")  # one row per option
    text = cli("train-sentiment", "--help").stdout
    shown = {}
    for line in text.splitlines():
        found = re.search(r"│\s*(--[a-z0-9-]+)\b.*\[default: ([^\]]+)\]", line)
        if found:
            shown[found.group(1)] = found.group(2)
    flag = "bidirectional" if SentimentConfig.bidirectional else "no-bidirectional"
    assert shown == {**{option: str(value) for option, value in HELP_DEFAULTS.items()}, "--bidirectional": flag}
    # the values the shipped models were built with (the CLI's values before they moved here)
    assert (SentimentConfig.dropout, SentimentConfig.ngram_branch_buckets, TrainSettings.epochs) == (0.4, 1 << 21, 5)
    for old in ("--ngram-buckets", "--linear-buckets", "--ngram-units"):  # hidden aliases
        assert old not in text


def test_cli_builds_exactly_the_dataclass_defaults(monkeypatch, cli, tmp_path):
    seen = {}
    monkeypatch.setattr(train_module, "train_sentiment",
                        lambda dataset, config, settings, output, **kw: seen.update(config=config, settings=settings)
                        or {"path": str(output), "valid_accuracy": 1.0, "best_epoch": 1, "minutes": 0.0, "valid_ece": 0.0})
    result = cli("train-sentiment", "data.csv", "-o", str(tmp_path / "m"))
    assert result.exit_code == 0, result.stderr
    assert seen["config"] == SentimentConfig() and seen["settings"] == TrainSettings()


def test_old_option_names_still_work_and_must_agree(monkeypatch, cli, tmp_path):
    seen = {}
    monkeypatch.setattr(train_module, "train_sentiment",
                        lambda dataset, config, settings, output, **kw: seen.update(config=config, given=kw["given"])
                        or {"path": str(output), "valid_accuracy": 1.0, "best_epoch": 1, "minutes": 0.0, "valid_ece": 0.0})
    result = cli("train-sentiment", "d.csv", "--ngram-buckets", "7", "--linear-buckets", "1024", "--ngram-units",
                 "chars", "-o", str(tmp_path / "m"))
    assert result.exit_code == 0, result.stderr
    config = seen["config"]
    assert (config.bag_buckets, config.ngram_branch_buckets, config.ngram_branch_units) == (7, 1024, "chars")
    assert {"bag_buckets", "ngram_branch_buckets", "ngram_branch_units"} <= set(seen["given"])
    clash = cli("train-sentiment", "d.csv", "--linear-buckets", "1024", "--ngram-branch-buckets", "2048")
    assert clash.exit_code != 0 and "--linear-buckets is the old name of --ngram-branch-buckets" in clash.stderr


def test_cards_are_read_under_old_and_new_field_names():
    old = {"lang": "en", "ngram_buckets": 10, "ngram_dim": 4, "linear_buckets": 64, "linear_max_n": 2,
           "linear_units": "words", "vocab_size": 50}
    config = SentimentConfig.from_dict(old, "card")
    assert (config.bag_buckets, config.bag_dim, config.ngram_branch_buckets, config.ngram_branch_max_n,
            config.ngram_branch_units) == (10, 4, 64, 2, "words")
    assert SentimentConfig.from_dict(config.to_dict(), "card") == config
    with pytest.raises(DataError, match="disagree"):
        SentimentConfig.from_dict({**old, "bag_buckets": 11}, "card")
    with pytest.raises(DataError, match="language"):
        SentimentConfig.from_dict({**old, "lang": "auto"}, "card")  # a saved model has a real language


class StopAfter:
    """A stop request that turns on after ``checks`` polls (a SIGINT arriving mid-training)."""

    def __init__(self, checks: int):
        self.left, self.signum = checks, None

    def __bool__(self) -> bool:
        self.left -= 1
        if self.left < 0:
            self.signum = signal.SIGINT
        return self.signum is not None


def interrupted_run(cli, monkeypatch, tmp_path, checks: int, *args):
    @contextmanager
    def stop_soon():
        yield StopAfter(checks)

    data = write_csv(tmp_path / "d.csv", EN_POS, EN_NEG, n=100)
    with monkeypatch.context() as patch:
        patch.setattr(train_module, "graceful_stop", stop_soon)
        result = cli("train-sentiment", str(data), *TINY, "--epochs", "3", *args, "-o", str(tmp_path / "m"))
    assert result.exit_code == 130 and "--resume" in result.stderr, result.stderr
    assert (tmp_path / "m.ckpt").is_dir()
    return data


def test_resume_refuses_model_options_by_name_and_applies_changeable_ones(cli, monkeypatch, tmp_path):
    # 180 training reviews: the n-gram branch polls 3 rates x 3 epochs x 1 batch, the neural part
    # 3 batches an epoch: the 13th poll is in the neural part's second epoch
    data = interrupted_run(cli, monkeypatch, tmp_path, 12)
    refused = cli("train-sentiment", str(data), "--resume", "--hidden", "16", "--dropout", "0.1", "--epochs", "2",
                  "-o", str(tmp_path / "m"))
    assert refused.exit_code != 0 and "Traceback" not in refused.stderr
    message = refused.stderr.replace("\n", " ")
    assert "--hidden (the run was started with 8)" in message and "--dropout (the run was started with 0.4)" in message
    assert "--epochs" not in message.split("cannot change")[1]
    other = cli("train-sentiment", str(tmp_path / "other.csv"), "--resume", "-o", str(tmp_path / "m"))
    assert other.exit_code != 0 and "DATASET (the run was started with" in other.stderr.replace("\n", " ")
    # no option repeated: the checkpoint's model and data continue (defaults never override it)
    resumed = cli("train-sentiment", str(data), "--resume", "--epochs", "2", "-o", str(tmp_path / "m"))
    assert resumed.exit_code == 0, resumed.stderr
    assert "resuming with --epochs 2" in resumed.stderr and "resuming at epoch" in resumed.stderr
    card = json.loads((tmp_path / "m" / "config.json").read_text())
    assert card["config"]["hidden"] == 8 and card["extra"]["training"]["epochs"] == 2
    assert len(card["metrics"]["history"]) <= 2 and card["extra"]["resumed"][0]["applied"] == {"epochs": 2}
    assert set(card["extra"]["resumed"][0]) == {"command", "applied"}  # (the command line is sys.argv: pytest's here)
    assert not (tmp_path / "m.ckpt").exists()


def test_resume_in_the_ngram_phase_starts_it_again(cli, monkeypatch, tmp_path):
    data = interrupted_run(cli, monkeypatch, tmp_path, 1)
    resumed = cli("train-sentiment", str(data), "--resume", "-o", str(tmp_path / "m"))
    assert resumed.exit_code == 0, resumed.stderr
    assert "the n-gram branch starts again" in resumed.stderr
    assert json.loads((tmp_path / "m" / "config.json").read_text())["metrics"]["valid_accuracy"] >= 0.9


def test_epochs_bound_every_part(tmp_path):
    data = write_csv(tmp_path / "d.csv", EN_POS, EN_NEG, n=50)
    settings = TrainSettings(epochs=2, batch_size=16, warmup_steps=2, device="cpu")
    train_module.train_sentiment(str(data), tiny_config("en"), settings, tmp_path / "m")
    metrics = json.loads((tmp_path / "m" / "config.json").read_text())["metrics"]
    assert len(metrics["history"]) == 2
    assert metrics["ngram_branch_epochs_run"] == {"0.02": 2, "0.005": 2, "0.0015": 2}  # not 3 rates x 8


def test_max_minutes_bounds_the_whole_job(tmp_path, monkeypatch):
    monkeypatch.setattr(neural_module, "FINISH_SECONDS", 1.0)
    data = write_csv(tmp_path / "d.csv", EN_POS, EN_NEG, n=2000)
    budget = 0.1  # 6 s for reading, both parts, mixing, calibrating and saving; 1000 epochs asked for
    settings = TrainSettings(epochs=1000, batch_size=8, warmup_steps=2, max_minutes=budget, device="cpu")
    started = time.perf_counter()
    train_module.train_sentiment(str(data), tiny_config("en"), settings, tmp_path / "m")
    elapsed = time.perf_counter() - started
    assert elapsed < budget * 60 + 4, elapsed  # slack: the last validation pass and saving on a busy machine
    metrics = json.loads((tmp_path / "m" / "config.json").read_text())["metrics"]
    assert metrics["history"][-1]["partial"] and len(metrics["history"]) < 1000
    assert metrics["seconds"]["ngram_branch"] <= budget * 60 * ngram_module.NGRAM_SHARE + 1.5


def test_the_ngram_rate_search_shares_its_deadline():
    from textlab.sentiment.linear import LinearSettings, train_linear

    rng = np.random.default_rng(0)
    bags = [np.unique(rng.integers(0, 1 << 16, 200)).astype(np.int32) for _ in range(4000)]
    labels = [int(x) for x in rng.integers(0, 2, 4000)]
    settings = LinearSettings(epochs=8, batch_size=16)
    started = time.perf_counter()
    model, info = train_linear(bags, labels, bags[:100], labels[:100], 1 << 16, settings, deadline=started + 1.5)
    elapsed = time.perf_counter() - started
    assert model is not None and elapsed < 1.5 + 2.0  # + the partial epochs' validation on a busy machine
    assert set(info["epochs_run"]) == {"0.02", "0.005", "0.0015"}  # every rate had its share
    assert sum(info["epochs_run"].values()) < 3 * 8 and info["history"][-1]["partial"] in (True, False)


def test_the_saved_model_is_never_worse_than_a_part_alone(monkeypatch):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    ngram = (labels * 2 - 1) * 1.0 + rng.normal(0, 0.5, 400)  # ~98% right
    neural = rng.normal(0, 1, 400)  # noise
    mix, which, scores = mix_module.choose_mix(neural, ngram, labels.tolist())
    assert which == "fitted mix" and scores["fitted mix"] >= scores["n-gram branch alone"]
    # a fitted mix that scores below a part (log loss and accuracy disagree): that part answers alone
    monkeypatch.setattr(mix_module, "fit_mix", lambda *a: torch.tensor([1.0, 0.05, 0.0, 0.0, 0.0, 0.0]))
    mix, which, scores = mix_module.choose_mix(neural, ngram, labels.tolist())
    assert which == "n-gram branch alone" and mix.tolist() == [0.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    assert scores["n-gram branch alone"] > scores["fitted mix"]


def test_threads_are_restored_and_the_curve_shows_every_part(tmp_path, monkeypatch):
    seen = {}
    real = finish_module.render_training_curve
    monkeypatch.setattr(finish_module, "render_training_curve",
                        lambda series, title, **kw: seen.update(series=series, **kw) or real(series, title, **kw))
    data = write_csv(tmp_path / "d.csv", EN_POS, EN_NEG, n=50)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        train_module.train_sentiment(str(data), tiny_config("en"), TrainSettings(epochs=3, batch_size=16, device="cpu",
                                                                                 threads=1), tmp_path / "m")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    names = list(seen["series"])
    assert [n.split(" (")[0] for n in names] == ["valid loss: neural part", "valid loss: n-gram branch",
                                                "valid loss: mixed"]
    assert all(len(v) == 3 for v in seen["series"].values()) and len(seen["secondary"]["mixed valid accuracy"]) == 3
    card = json.loads((tmp_path / "m" / "config.json").read_text())
    assert f"saved: acc {card['metrics']['valid_accuracy']:.4f}" in names[2]
    assert (tmp_path / "m" / "curve.png").read_bytes()[:4] == b"\x89PNG"


def test_dataclass_fields_all_reach_the_card(tmp_path):
    """The card's config holds every SentimentConfig field (new names), resolved."""
    data = write_csv(tmp_path / "d.csv", EN_POS, EN_NEG, n=20)
    train_module.train_sentiment(str(data), tiny_config("en"), TrainSettings(epochs=1, device="cpu"), tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())["config"]
    assert list(config) == [f.name for f in fields(SentimentConfig)]
    assert config["ngram_branch_units"] == "words" and config["lang"] == "en"
