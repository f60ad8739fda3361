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


def test_a_checkpoint_from_before_checksums_still_loads(tmp_path):
    """Format 1: ``checkpoint.safetensors`` and a ``checkpoint.json`` without checksums."""
    import json

    from safetensors.torch import save_file

    save_file({"weights": torch.arange(4.0)}, str(tmp_path / "checkpoint.safetensors"))
    (tmp_path / "checkpoint.json").write_text(json.dumps({"format": 1, "state": {"__dict__": [
        ["step", 7], ["weights", {"__tensor__": "weights"}]]}}))
    loaded = load_checkpoint(tmp_path)
    assert loaded["step"] == 7 and torch.equal(loaded["weights"], torch.arange(4.0))


def test_a_new_checkpoint_replaces_the_previous_one_in_one_step(tmp_path):
    """Each checkpoint's tensors have their own file, named by the JSON written last; the
    previous file goes once the new checkpoint is complete."""
    save_checkpoint(tmp_path, {"weights": torch.zeros(3)})
    save_checkpoint(tmp_path, {"weights": torch.ones(3)})
    assert len(list(tmp_path.glob("*.safetensors"))) == 1
    assert torch.equal(load_checkpoint(tmp_path)["weights"], torch.ones(3))
