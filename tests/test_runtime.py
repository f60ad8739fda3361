from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from textlab.errors import DataError, UsageError
from textlab.runtime.checkpoints import load_checkpoint, save_checkpoint
from textlab.runtime.device import pick_device
from textlab.runtime.seeding import rng_state, set_rng_state


def test_checkpoint_round_trip_with_optimizer_state(tmp_path):
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": 7, "history": [1.5, 1.2]}
    save_checkpoint(tmp_path / "ckpt", state)
    loaded = load_checkpoint(tmp_path / "ckpt")
    assert loaded["step"] == 7 and loaded["history"] == [1.5, 1.2]
    restored = torch.optim.Adam(torch.nn.Linear(3, 2).parameters(), lr=0.01)
    restored.load_state_dict(loaded["optimizer"])
    assert torch.equal(restored.state_dict()["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"])
    assert torch.equal(loaded["model"]["weight"], model.state_dict()["weight"])


def test_missing_checkpoint_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no checkpoint"):
        load_checkpoint(tmp_path)


def test_rng_state_restores_every_stream(tmp_path):
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    save_checkpoint(tmp_path / "rng", {"rng": rng_state()})
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    set_rng_state(load_checkpoint(tmp_path / "rng")["rng"])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_device_choice():
    assert pick_device("cpu").type == "cpu"
    assert pick_device("auto").type in ("cpu", "cuda")
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="CUDA is not available"):
            pick_device("cuda")
