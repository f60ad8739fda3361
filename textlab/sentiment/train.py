"""Training a sentiment model, in named stages, one module each (:func:`train_sentiment` runs
them in order, after :func:`~textlab.sentiment.run_plan.plan_run` has settled what a
``--resume`` continues and :func:`~textlab.sentiment.state.start_or_restore` has built the
model, initialised by :mod:`textlab.sentiment.initialise`, or restored it):

1. :func:`~textlab.sentiment.prepare.prepare`: read the train split, hold out the validation
   part (or read ``--valid-data``), tokenize, build the vocabulary on the training part, encode
   both parts;
2. :func:`~textlab.sentiment.ngram_phase.ngram_phase`: the n-gram branch (rate search,
   :mod:`textlab.sentiment.linear`). It runs first because it is cheap and bounded: under
   ``--max-minutes`` it gets at most :data:`~textlab.sentiment.ngram_phase.NGRAM_SHARE` of the
   time left after preparing, and the neural phase the rest;
3. :func:`~textlab.sentiment.neural_phase.neural_phase`: AdamW over length-sorted batches,
   validation after every epoch, the best epoch kept;
4. :func:`~textlab.sentiment.mix.mix_stage`: the logit mix fitted on the validation part, or one
   part alone when it scores higher there (the saved model is never worse on validation than
   its best part);
5. :func:`~textlab.sentiment.finish.calibrate_stage`: the temperature of
   :mod:`textlab.sentiment.calibrate`;
6. :func:`~textlab.sentiment.finish.save_stage`: the model directory, its card and
   ``curve.png`` (every part per epoch); stages 4-6 run in
   :func:`~textlab.sentiment.finish.finish`.

``--max-minutes`` bounds the whole job (preparing counts; each part trains at least one batch),
``--epochs`` bounds every part (the n-gram branch trains at most that many epochs per rate).
SIGINT/SIGTERM save a checkpoint for ``--resume``
(:func:`~textlab.sentiment.state.checkpoint_and_stop`); a resumed run follows
:mod:`textlab.resume`: ``--epochs``, ``--max-minutes`` and ``--device`` may change (and the card
records the values that ran), every other option defines the model or its data and is refused
if it differs.

The IMDb test split is never read here: model selection uses the validation part only. On
CUDA the step loops make no host synchronisation (losses are summed on the device and read
every :attr:`RunningLoss.every` steps; batches are copied from pinned memory asynchronously).
"""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path

from textlab.errors import DataError
from textlab.reservation import reserve_output
from textlab.runtime.checkpoints import checkpoint_dir_for
from textlab.runtime.device import pick_device, torch_threads
from textlab.runtime.seeding import seed_everything
from textlab.runtime.signals import graceful_stop
from textlab.sentiment.config import SentimentConfig, TrainSettings
from textlab.sentiment.finish import SHORT_VIEW_METRICS, finish
from textlab.sentiment.neural_phase import neural_phase
from textlab.sentiment.ngram_phase import ngram_phase
from textlab.sentiment.prepare import prepare
from textlab.sentiment.run_plan import Clock, plan_run
from textlab.sentiment.state import checkpoint_and_stop, start_or_restore


def train_sentiment(dataset: str, config: SentimentConfig, settings: TrainSettings, output: Path,
                    force: bool = False, resume: bool = False, pretrained_w2v: str | None = None,
                    command: str = "", given: dict | None = None, from_lm: str | None = None) -> dict:
    """Train and save a sentiment model; returns a summary (validation accuracy, sizes, path).

    ``given``: the options typed on this command line (by ``train-sentiment`` parameter name,
    see :func:`textlab.cli.options.given_options`): with ``resume`` they are compared with the
    checkpoint's, with ``from_lm`` they decide which options the LM's shape overrides (named);
    None (an API call) compares every option of ``config`` and ``settings`` with the checkpoint's
    and treats the options that differ from their defaults as given. ``from_lm``: a word LM
    (store name or path) that a fresh model starts from (:mod:`textlab.sentiment.lm_init`)."""
    output = Path(output)
    with reserve_output(output, force, "model", resume=resume):  # before any work, for the whole job
        return _train_reserved(dataset, config, settings, output, force, resume, pretrained_w2v, command, given,
                               from_lm)


def _train_reserved(dataset: str, config: SentimentConfig, settings: TrainSettings, output: Path, force: bool,
                    resume: bool, pretrained_w2v: str | None, command: str, given: dict | None,
                    from_lm: str | None) -> dict:
    """:func:`train_sentiment`, its output reserved."""
    ckpt = checkpoint_dir_for(output)
    run = plan_run(dataset, config, settings, pretrained_w2v, command, resume, given, ckpt, from_lm)
    seed_everything(run.settings.seed)
    device = pick_device(run.settings.device)
    clock = Clock(0.0 if run.saved is None else float(run.saved["elapsed"]), run.settings.max_minutes)
    with torch_threads((run.settings.threads or 1) if device.type == "cpu" else 0):  # neural part: tuned_threads
        prepared = prepare(run.dataset, run.config, run.settings, run.pretrained_w2v if run.saved is None else None,
                           None if run.saved is None else run.saved["vocab"], run.lm)
        if run.saved is not None and asdict(prepared.config) != run.saved["config"]:
            raise DataError(f"{ckpt}: the data no longer gives the model the checkpoint describes; "
                            "start again without --resume")
        state = start_or_restore(prepared, run, device)
        seconds = {"prepare": round(clock.used() - clock.used_before, 2)}  # this run's stages
        with graceful_stop() as stop:
            if state.model.linear is not None and state.ngram is None:
                started = clock.used()
                state.ngram = ngram_phase(state.model, prepared, run.settings, clock, stop, device)
                if state.ngram is None:
                    checkpoint_and_stop(ckpt, run, prepared, state, clock, device, output, stop.signum)
                seconds["ngram_branch"] = round(clock.used() - started, 2)
            started = clock.used()
            outcome = neural_phase(state.model, state.optimizer, prepared, run.settings, state.progress, clock, stop,
                                   device)
            if outcome == "stopped":
                checkpoint_and_stop(ckpt, run, prepared, state, clock, device, output, stop.signum)
            seconds["neural"] = round(clock.used() - started, 2)
        with graceful_stop("finishing and saving the model"):  # a signal now would lose the trained model
            metrics = finish(output, run, prepared, state, clock, seconds, device, force)
            shutil.rmtree(ckpt, ignore_errors=True)
    return {"path": str(output), "valid_accuracy": metrics["valid_accuracy"], "best_epoch": state.progress.best_epoch,
            "train": len(prepared.train), "valid": len(prepared.valid), "vocab_size": len(prepared.vocab),
            "minutes": metrics["train_minutes"], "valid_ece": metrics["valid_ece"],
            **{k: metrics[k] for k in SHORT_VIEW_METRICS if k in metrics}}
