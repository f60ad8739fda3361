"""The shared --resume rule: changeable options apply, model/data options that differ are refused by name."""

import pytest

from textlab.errors import UsageError
from textlab.resume import reconcile

SAVED = {"hidden": 768, "epochs": 50, "lr": 0.002, "max_minutes": 0.0, "corpus": "a.txt"}


def test_changeable_options_apply_and_equal_values_pass():
    applied = reconcile(SAVED, {"epochs": 3, "hidden": 768, "lr": 0.002, "max_minutes": 2.5},
                        changeable=("epochs", "max_minutes"))
    assert applied == {"epochs": 3, "max_minutes": 2.5}


def test_fixed_options_that_differ_are_named():
    with pytest.raises(UsageError) as info:
        reconcile(SAVED, {"hidden": 256, "lr": 0.01, "epochs": 3}, changeable=("epochs",), flags={"lr": "--lr"})
    message = str(info.value)
    assert "--hidden (the run was started with 768)" in message
    assert "--lr (the run was started with 0.002)" in message
    assert "--epochs" not in message


def test_cli_reports_only_typed_options():
    import typer
    from typer.testing import CliRunner

    from textlab.cli.options import given_options

    app = typer.Typer()
    seen = {}

    @app.command()
    def main(ctx: typer.Context, hidden: int = 768, epochs: int = 5, resume: bool = False):
        seen.update(given_options(ctx))

    result = CliRunner().invoke(app, ["--epochs", "5", "--resume"])
    assert result.exit_code == 0, result.output
    assert seen == {"epochs": 5}
