"""Shared fixtures: an isolated TEXTLAB_HOME per test, no live progress bars, tiny corpora."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

os.environ.setdefault("TEXTLAB_NO_PROGRESS", "1")
# Test models are tiny: torch's intra-op threads only add contention (measured: a 16-unit char
# LSTM trains at 69 chars/s with 2 threads on a busy 2-core machine, 10,797 with 1). Set before
# torch is imported; subprocesses started by tests inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")

pytest_plugins = ["tests.fakes"]  # fake_shipped, nothing_shipped: tiny stand-ins for textlab/pretrained


@pytest.fixture(autouse=True)
def textlab_home(tmp_path_factory, monkeypatch) -> Path:
    home = tmp_path_factory.mktemp("textlab_home")
    monkeypatch.setenv("TEXTLAB_HOME", str(home))
    monkeypatch.setenv("TEXTLAB_NO_PROGRESS", "1")
    monkeypatch.delenv("TEXTLAB_DEBUG", raising=False)
    return home


@pytest.fixture
def runner():
    from typer.testing import CliRunner

    return CliRunner()


@pytest.fixture
def cli(runner):
    """Invoke the textlab CLI in-process: ``cli("tokenize", "--lang", "en", input="...")``."""
    from textlab.cli import app

    def invoke(*args: str, input: str | bytes | None = None):
        return runner.invoke(app, list(args), input=input)

    return invoke


def shared_data(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data {path} not available")
    return path


def pytest_collection_modifyitems(config, items):
    """Tests marked ``cuda`` are skipped (and say so) where no CUDA GPU is present."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (run scripts/gpu_check.py on one)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
