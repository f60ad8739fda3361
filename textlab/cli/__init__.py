"""The ``textlab`` command line: thin Typer commands over the library.

Each feature registers its commands in its own module; importing them here builds the app.
"""

from __future__ import annotations

from textlab.cli.app import app
from textlab.cli import data as _data  # noqa: F401  (registers commands)
from textlab.cli import text as _text  # noqa: F401

for _module in ("w2v", "charlm", "wordlm", "sentiment", "demo"):
    try:
        __import__(f"textlab.cli.{_module}")
    except ModuleNotFoundError as _exc:  # a feature not built yet
        if _exc.name != f"textlab.cli.{_module}":
            raise


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
