"""Option types shared by the commands (one definition, used everywhere)."""

from __future__ import annotations

from typing import Annotated, Literal, Optional

import typer


def opt(*names: str, help: str, **kw):
    """``typer.Option`` with its help text: the commands' own options, declared in one line each."""
    return typer.Option(*names, help=help, **kw)


Device = Annotated[
    Literal["auto", "cpu", "cuda"],
    typer.Option("--device", help="auto = CUDA when available, else CPU."),
]
#: Every training seed fits the widest range every generator it seeds accepts (numpy, torch,
#: scikit-learn's t-SNE: 0 to 2^32 - 1).
SEED_RANGE = (0, 2**32 - 1)
Seed = Annotated[int, typer.Option("--seed", help="Random seed, for reproducible runs.", min=SEED_RANGE[0],
                                   max=SEED_RANGE[1])]
Force = Annotated[bool, typer.Option("--force", help="Overwrite an existing output.")]
JsonOutput = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
ModelName = Annotated[
    Optional[str],
    typer.Option("--model", "-m", help="Model name, directory or shipped:NAME (see `textlab models`); default: your "
                 "newest model of this kind, else the shipped one (stderr names the model used)."),
]
OutputModel = Annotated[
    Optional[str],
    typer.Option("--output", "-o", help="Model name (saved under $TEXTLAB_HOME/models) or a directory path."),
]
Resume = Annotated[bool, typer.Option("--resume", help="Continue from the checkpoint of an interrupted run.")]
MaxMinutes = Annotated[
    Optional[float], typer.Option("--max-minutes", min=0.01, help="Stop cleanly after this many minutes, keeping the best model.")
]
Lang = Annotated[
    Literal["en", "zh", "auto", "none"],
    typer.Option("--lang", help="Tokenizer: en (nltk regexp), zh (jieba), auto (by script), none (split on white space)."),
]
KeepCase = Annotated[bool, typer.Option("--keep-case", help="Do not lowercase.")]
StopWords = Annotated[bool, typer.Option("--stopwords", help="Remove stop words (the shipped en/zh lists).")]
Precision = Annotated[
    Literal["auto", "fp32", "bf16", "fp16"],
    typer.Option("--precision", help="Training arithmetic (weights stay fp32): bf16 autocast on a CPU, fp16 autocast "
                 "with a gradient scaler on CUDA, or fp32; auto = the one measured faster here, in a few seconds "
                 "before training."),
]


def check_validation_source(dataset: str, valid_data: str | None, given: dict) -> None:
    """``--valid-data`` replaces ``--valid-fraction`` (both given: refused, not one dropped) and
    may not be the training data itself (its figures would measure nothing held out)."""
    import os

    from textlab.errors import UsageError

    if not valid_data:
        return
    if "valid_fraction" in given:
        raise UsageError("--valid-data and --valid-fraction both choose the validation part: give one")
    if os.path.exists(valid_data) and os.path.exists(dataset) and os.path.samefile(valid_data, dataset):
        raise UsageError(f"--valid-data {valid_data} is the training data itself: validate on held-out text "
                         "(or leave --valid-data out to hold out --valid-fraction)")


def given_options(ctx: typer.Context, exclude: tuple[str, ...] = ("resume", "force", "output")) -> dict:
    """The options the user typed (or set through the environment) on this command line, by
    parameter name: what ``--resume`` compares with its checkpoint (defaults never count)."""
    def typed(name: str) -> bool:  # Typer vendors click: compare the enum by name
        source = ctx.get_parameter_source(name)
        return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT")

    return {name: value for name, value in ctx.params.items() if name not in exclude and typed(name)}
