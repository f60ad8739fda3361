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


def test_train_lm_defaults_are_the_config_dataclasses(cli):
    from textlab.wordlm.config import VALID_FRACTION, VOCAB_WORDS, TrainConfig, WordLMConfig

    params, model, train = _params("train-lm"), WordLMConfig(), TrainConfig()
    assert params["vocab_size"].default == VOCAB_WORDS and params["valid_fraction"].default == VALID_FRACTION
    for field, value in (("embed_dim", model.embed_dim), ("hidden", model.hidden), ("layers", model.layers),
                         ("seq_len", train.seq_len), ("batch_size", train.batch_size)):
        assert params[field].default is None and f"[{value}]" in params[field].help, field
    assert f"[{train.lr:g}]" in params["lr"].help and params["seed"].default == train.seed
    assert "[default: 30000]" in " ".join(cli("train-lm", "--help").stdout.split())
