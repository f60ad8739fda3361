"""The README stays true: its install line brings what its test command needs, CI runs exactly
that test command, and every command of the CLI has an example in it."""

from __future__ import annotations

import re
from pathlib import Path

import typer

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks() -> list[str]:
    """The shell blocks (a block in another language still pairs its fences)."""
    return [body for lang, body in re.findall(r"```(\w*)\n(.*?)```", README, flags=re.S) if lang in ("bash", "sh", "")]


def test_install_then_tests_work_as_written():
    install = next(line for block in _blocks() for line in block.splitlines() if line.startswith("pip install"))
    assert "[test]" in install, install  # pytest and hypothesis come with the README's install line
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = "python -m pytest -q"
    assert f"\n{test_command}\n" in "\n" + "\n".join(_blocks()) + "\n"
    assert ci.rstrip().splitlines()[-1] == test_command


def test_every_command_has_an_example():
    from textlab.cli import app

    group = typer.main.get_command(app)
    examples = "\n".join(_blocks())
    for name, command in group.commands.items():
        names = [name] + [f"{name} {sub}" for sub in getattr(command, "commands", {})]
        for full in names:
            assert f"textlab {full}" in examples, f"no README example for 'textlab {full}'"
