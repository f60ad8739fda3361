"""What a resumed language-model run may change: --epochs applies, unless it leaves nothing to train."""

from __future__ import annotations

import pytest
import torch

from textlab.charlm.config import RESUMABLE, CharLMConfig, TrainConfig
from textlab.errors import UsageError
from textlab.lm.setup import resume_settings


def test_more_epochs_apply_and_fewer_than_trained_are_refused(tmp_path):
    model, train = CharLMConfig(vocab_size=10), TrainConfig(epochs=10)
    updated, applied = resume_settings(model, train, {"epochs": 12}, tmp_path, torch.device("cpu"), RESUMABLE,
                                       epochs_done=4)
    assert updated.epochs == 12 and applied == {"epochs": 12}
    for epochs in (4, 2):
        with pytest.raises(UsageError, match=f"has trained 4 epochs already: --epochs {epochs} leaves nothing"):
            resume_settings(model, train, {"epochs": epochs}, tmp_path, torch.device("cpu"), RESUMABLE, epochs_done=4)
    updated, _ = resume_settings(model, train, {}, tmp_path, torch.device("cpu"), RESUMABLE, epochs_done=4)
    assert updated.epochs == 10  # not given: the run's own
