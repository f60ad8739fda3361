"""Fixtures shared by the sentiment tests: one tiny English model trained once per session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def en_model(tmp_path_factory) -> Path:
    from tests.sentiment.test_sentiment import EN_NEG, EN_POS, tiny_config, write_csv
    from textlab.sentiment.config import TrainSettings
    from textlab.sentiment.train import train_sentiment

    root = tmp_path_factory.mktemp("en")
    data = write_csv(root / "en.csv", EN_POS, EN_NEG)
    settings = TrainSettings(epochs=25, batch_size=32, learning_rate=5e-3, warmup_steps=5, seed=1, device="cpu")
    train_sentiment(str(data), tiny_config("en"), settings, root / "model")
    return root / "model"
