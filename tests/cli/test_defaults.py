"""One source for every default: the options of the training commands read theirs from the
config dataclasses, and --help shows those values."""

from __future__ import annotations

import dataclasses

import typer

from textlab.cli import app


def _params(command: str) -> dict:
    group = typer.main.get_command(app)
    return {param.name: param for param in group.commands[command].params}


def test_train_w2v_defaults_are_the_config_dataclass(cli):
    from textlab.w2v.config import Word2VecConfig

    params, defaults = _params("train-w2v"), Word2VecConfig()
    shared = [f.name for f in dataclasses.fields(Word2VecConfig) if f.name in params]
    assert len(shared) >= 12, shared
    for name in shared:
        assert params[name].default == getattr(defaults, name), name
    shown = cli("train-w2v", "--help").stdout
    assert f"[default: {defaults.dim}]" in " ".join(shown.split())


def test_train_charlm_help_shows_the_config_defaults(cli):
    from textlab.charlm.config import CPU_SHAPES, CUDA_SHAPE, TrainConfig

    params, narrow = _params("train-charlm"), CPU_SHAPES[0]
    for field in ("hidden", "batch_size", "dropout", "seq_len", "layers"):
        assert params[field].default is None  # left open: the device's shape or the probe decides
        assert f"CPU: {getattr(narrow, field)}," in params[field].help, field
        assert f"CUDA: {getattr(CUDA_SHAPE, field)}]" in params[field].help, field
        assert all(shape.name in params[field].help for shape in CPU_SHAPES)
    assert f"[{TrainConfig().lr:g}]" in params["lr"].help and params["seed"].default == TrainConfig().seed
    assert "CPU: 512," in " ".join(cli("train-charlm", "--help").stdout.split())
