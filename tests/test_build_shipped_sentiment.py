"""scripts/build_shipped_sentiment.py's ship rule (scripts/shipped_sentiment_rule.py) and its
--sentence-crops trial, with textlab's commands faked (no data, no training): what the build asks train-sentiment for, and that a trial
model replaces the shipped one only when the rule passes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


@pytest.fixture
def script(monkeypatch, tmp_path):
    """The build script with a shipped English card (validation 0.93) under a temporary target,
    commands recorded and faked, inference at ``script.rate`` reviews/s."""
    monkeypatch.syspath_prepend(str(SCRIPTS))
    import build_shipped_sentiment as module
    import shipped_sentiment_rule as rule

    target = tmp_path / "pretrained"
    (target / "en").mkdir(parents=True)
    (target / "en" / "config.json").write_text(json.dumps(card(0.93)))
    monkeypatch.setattr(module, "TARGET", target)
    module.calls, module.trained_accuracy, module.rate = [], 0.92, 1000.0

    def textlab(*args):
        module.calls.append(args)
        if args[0] == "train-sentiment":
            model = Path(args[args.index("-o") + 1])
            model.mkdir(parents=True)
            (model / "config.json").write_text(json.dumps(card(module.trained_accuracy)))
        return json.dumps({"tokens": 1, "vocab_size": 1, "train_seconds": 1, "accuracy": 0.5, "f1": 0.5,
                           "ece": 0.1, "n": 2})

    monkeypatch.setattr(module, "textlab", textlab)
    monkeypatch.setattr(module, "imdb_unlabelled_text", lambda work: (work / "corpus.txt", {"corpus": "corpus"}))
    monkeypatch.setattr(rule, "validation_part", lambda lang, card, work: (["a review"], [1]))
    monkeypatch.setattr(rule, "inference_rate", lambda model, texts: module.rate)
    module.MIN_REVIEWS_PER_SECOND_PER_THREAD = rule.MIN_REVIEWS_PER_SECOND_PER_THREAD
    yield module
    for name in ("build_shipped_sentiment", "shipped_sentiment_refit", "shipped_sentiment_rule",
                 "shipped_sentiment_cards"):
        sys.modules.pop(name, None)


def card(valid_accuracy: float) -> dict:
    return {"config": {}, "command": "", "data": {"dataset": "imdb", "valid": 2500},
            "metrics": {"valid_accuracy": valid_accuracy, "train_minutes": 1.0}, "extra": {}}


def shipped_accuracy(script) -> float:
    return json.loads((script.TARGET / "en" / "config.json").read_text())["metrics"]["valid_accuracy"]


def test_a_crops_trial_asks_for_crops_and_a_worse_model_never_ships(script, tmp_path):
    result = script.build("en", 30.0, 6, tmp_path / "work", sentence_crops=0.5, candidate=tmp_path / "candidate")
    train = next(call for call in script.calls if call[0] == "train-sentiment")
    assert train[train.index("--sentence-crops") + 1] == "0.5" and "--pretrained-w2v" in train
    assert result["shipped"] is False and "0.93 >= 0.92" in result["kept_because"]
    assert shipped_accuracy(script) == 0.93
    kept = json.loads((tmp_path / "candidate" / "config.json").read_text())
    assert kept["metrics"]["valid_accuracy"] == 0.92 and kept["metrics"]["valid_reviews_per_second_one_thread"] == 1000
    assert "--sentence-crops 0.5" in kept["command"]


def test_a_crops_trial_that_beats_the_card_ships_unless_it_is_slow(script, tmp_path):
    script.trained_accuracy, script.rate = 0.95, script.MIN_REVIEWS_PER_SECOND_PER_THREAD - 1
    result = script.build("en", 30.0, 6, tmp_path / "slow", sentence_crops=0.5)
    assert result["shipped"] is False and "reviews/s on one thread" in result["kept_because"]
    assert shipped_accuracy(script) == 0.93
    script.rate = script.MIN_REVIEWS_PER_SECOND_PER_THREAD
    result = script.build("en", 30.0, 6, tmp_path / "fast", sentence_crops=0.5)
    assert "shipped" not in result and shipped_accuracy(script) == 0.95


def test_the_plain_recipe_asks_for_no_crops(script, tmp_path):
    script.build("en", 30.0, 6, tmp_path / "work", keep_better=True)
    train = next(call for call in script.calls if call[0] == "train-sentiment")
    assert "--sentence-crops" not in train
