from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from textlab.errors import DataError, UsageError
from textlab.runtime.checkpoints import load_checkpoint, save_checkpoint
from textlab.runtime.device import device_name, pick_device
from textlab.runtime.seeding import rng_state, seed_everything, set_rng_state


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


def test_a_numpy_checkpoint_is_the_same_file_without_torch(tmp_path):
    """A state of numpy arrays (word2vec's) is written and read without torch, and its tensors
    file is byte for byte what torch's writer makes of the same state."""
    import subprocess
    import sys

    arrays = {"vectors": np.random.default_rng(0).random((50, 7), dtype=np.float32), "cursors": np.arange(3)}
    save_checkpoint(tmp_path / "torch", {k: torch.from_numpy(v) for k, v in arrays.items()} | {"step": 4})
    probe = ("import sys, numpy as np; from textlab.runtime.checkpoints import load_checkpoint, save_checkpoint; "
             "state = load_checkpoint(sys.argv[1], framework='numpy'); "
             "assert isinstance(state['vectors'], np.ndarray) and state['step'] == 4; "
             "save_checkpoint(sys.argv[2], state); print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "torch"), str(tmp_path / "numpy")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
    files = [next((tmp_path / name).glob("checkpoint-*.safetensors")) for name in ("torch", "numpy")]
    assert files[0].name == files[1].name and files[0].read_bytes() == files[1].read_bytes()
    loaded = load_checkpoint(tmp_path / "numpy")  # read back as torch tensors, as before
    assert torch.equal(loaded["vectors"], torch.from_numpy(arrays["vectors"])) and loaded["step"] == 4


def test_auto_device_needs_no_torch_where_no_gpu_can_be(tmp_path):
    """No GPU device file: ``auto`` is the CPU, decided without importing torch; with one, torch
    is asked (and says CPU on a machine without CUDA)."""
    import subprocess
    import sys

    probe = ("import sys; from textlab.runtime import device; device.GPU_DEVICE_FILES = tuple(sys.argv[1:]); "
             "print(device.cuda_possible(), device.device_name('auto'), 'torch' in sys.modules)")
    fake = tmp_path / "nvidiactl"
    fake.write_text("")

    def ask(*files: str) -> list[str]:
        result = subprocess.run([sys.executable, "-c", probe, *files], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout.split()

    assert ask(str(tmp_path / "absent"), str(tmp_path / "nvidia[0-9]*")) == ["False", "cpu", "False"]
    possible, name, imported = ask(str(fake))
    assert possible == "True" and imported == "True"
    assert name == ("cuda" if torch.cuda.is_available() else "cpu")
    assert device_name("cpu") == "cpu"


def test_seeding_that_may_leave_torch_out_still_seeds_it_once_imported():
    seed_everything(5, import_torch=False)  # torch is imported in this process
    first = torch.rand(3)
    torch.manual_seed(5)
    assert torch.equal(first, torch.rand(3))
