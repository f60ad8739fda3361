"""Stage 2 of training: the n-gram branch (rate search, :mod:`textlab.sentiment.linear`). It
runs first because it is cheap and bounded: under ``--max-minutes`` it gets at most
:data:`NGRAM_SHARE` of the time left after preparing, and the neural phase the rest."""

from __future__ import annotations

import torch

from textlab.runtime.output import say
from textlab.sentiment.config import TrainSettings
from textlab.sentiment.linear import (
    LinearSettings, accuracy, dequantize_int8, linear_logits, quantize_int8, train_linear,
)
from textlab.sentiment.model import SentimentModel
from textlab.sentiment.prepare import Prepared
from textlab.sentiment.run_plan import Clock

#: Under --max-minutes, the n-gram branch gets at most this share of the time left after
#: preparing (on IMDb it needs ~4 s an epoch here, ~1 min for 3 rates x 5 epochs, against
#: ~3 min per neural epoch) and the neural part gets the rest.
NGRAM_SHARE = 1 / 3


def ngram_phase(model: SentimentModel, prepared: Prepared, settings: TrainSettings, clock: Clock, stop,
                device: torch.device) -> dict | None:
    """Train the n-gram branch (at most ``--epochs`` epochs per rate, within its share of the
    time), store it in ``model.linear`` as the saved model will hold it (int8), and return what
    the later stages need: metrics, per-epoch history, validation logits. None if stopped."""
    left = clock.left()
    deadline = None if left is None else clock.deadline(left * NGRAM_SHARE)
    linear_settings = LinearSettings(seed=settings.seed)
    linear_settings.epochs = min(linear_settings.epochs, settings.epochs)
    linear, info = train_linear(prepared.train.ngram_branch, prepared.train.labels, prepared.valid.ngram_branch,
                                prepared.valid.labels, model.config.ngram_branch_buckets, linear_settings,
                                log=say, stop=stop, device=device, deadline=deadline)
    if linear is None:
        return None
    with torch.no_grad():  # measure (and mix) exactly what is stored: the table as int8
        linear.weight.weight.copy_(dequantize_int8(*quantize_int8(linear.weight.weight)))
        model.linear.load_state_dict(linear.state_dict())
    valid_logits = linear_logits(model.linear, prepared.valid.ngram_branch)
    return {"valid_logits": valid_logits, "history": info["history"],
            "metrics": {"ngram_branch_valid_accuracy": round(accuracy(valid_logits, prepared.valid.labels), 4),
                        "ngram_branch_best_epoch": info["best_epoch"],
                        "ngram_branch_learning_rate": info["learning_rate"],
                        "ngram_branch_epochs_run": info["epochs_run"]}}
