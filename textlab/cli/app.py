"""The Typer application and its error handling: user errors become one line on stderr and a
non-zero exit; a traceback only with ``TEXTLAB_DEBUG=1``."""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Annotated

import typer
from typer.core import TyperGroup

from textlab.errors import TextlabError
import textlab.runtime.signals  # noqa: F401  (registers the at-fork SIGTERM reset before any pool forks)


def _debug() -> bool:
    return os.environ.get("TEXTLAB_DEBUG", "") not in ("", "0")


def _fail(message: str, code: int) -> int:
    message = " ".join(str(message).split())  # one line, always
    sys.stderr.write(f"textlab: error: {message}\n")
    sys.stderr.flush()
    return code


class Terminated(BaseException):
    """SIGTERM outside a training loop (which saves a checkpoint itself): stop like Ctrl-C does."""


def _raise_terminated(signum, frame):  # noqa: ARG001
    # Forked workers never run this: textlab.runtime.signals resets SIGTERM to the default at fork time.
    raise Terminated


class Interrupted(BaseException):
    """Ctrl-C in a command. Typer would turn KeyboardInterrupt into a silent exit code 130;
    this passes it through to :meth:`TextlabGroup._run`, which says so in one line."""


class Escaped(Exception):
    """An exception Typer would misreport (EOFError: as an interruption), carried past it."""

    def __init__(self, original: BaseException):
        super().__init__(str(original))
        self.original = original


class TextlabGroup(TyperGroup):
    """Runs a command and maps every way it can fail onto an exit code and one line."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise Interrupted from exc
        except EOFError as exc:  # Typer would report it as an interruption: it is a bug
            raise Escaped(exc) from exc
        except BrokenPipeError:  # the reader went away (`| head`): click would exit 1; stop quietly
            _silence_stdout()
            raise typer.Exit(0) from None

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # noqa: D401
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, _raise_terminated)
        try:
            code = self._run(args, prog_name, complete_var, extra)
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        if standalone_mode:
            sys.exit(code)
        return code

    def _run(self, args, prog_name, complete_var, extra) -> int:
        try:
            result = super().main(
                args=args, prog_name=prog_name or "textlab", complete_var=complete_var,
                standalone_mode=False, **extra,
            )
            code = result if isinstance(result, int) else 0
        except typer.Exit as exc:
            code = exc.exit_code
        except typer.TyperException as exc:  # click's usage errors (vendored by Typer)
            if type(exc).__name__ == "NoArgsIsHelpError":
                # The error carries the help as its message; with rich markup Typer has already
                # printed it while making that message (an empty one): print it once.
                if message := exc.format_message():
                    sys.stdout.write(message + "\n")
                code = 0
            else:
                if _debug():
                    raise
                code = _fail(exc.format_message(), getattr(exc, "exit_code", 2))
        except (typer.Abort, KeyboardInterrupt, Interrupted):
            sys.stderr.write("textlab: interrupted\n")
            sys.stderr.flush()
            code = 130
        except Terminated:
            sys.stderr.write("textlab: terminated\n")
            code = 143
        except TextlabError as exc:
            if _debug():
                raise
            code = _fail(str(exc), exc.exit_code)
        except BrokenPipeError:
            # The reader went away (`textlab generate | head`): stop quietly.
            _silence_stdout()
            code = 0
        except MemoryError:
            if _debug():
                raise
            code = _fail("out of memory; try smaller settings or a smaller input", 1)
        except OSError as exc:
            if _debug():
                raise
            where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
            code = _fail(f"{exc.strerror or exc}{where}", 1)
        except Exception as exc:  # a bug: still one line, the traceback on request
            exc = exc.original if isinstance(exc, Escaped) else exc
            if _debug():
                raise exc
            code = _fail(f"internal error ({type(exc).__name__}: {exc}); set TEXTLAB_DEBUG=1 for the traceback", 1)
        return code


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the final flush at exit cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


app = typer.Typer(
    cls=TextlabGroup,
    name="textlab",
    help="textlab: tokenization, vocabularies, word2vec, character- and word-level LSTM language models and "
    "LSTM sentiment from the terminal, in PyTorch (CUDA when present, CPU otherwise).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def version() -> str:
    """The installed distribution's version (the package's own when it is not installed)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("textlab")
    except PackageNotFoundError:
        from textlab import __version__

        return __version__


def _print_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"textlab {version()}\n")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                               help="Print the version and exit.")] = False,
) -> None:
    pass


def echo_json(payload) -> None:
    import json

    sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def echo_table(table) -> None:
    """A rich table on stdout (listings are data), as wide as the terminal (80 columns when
    stdout is not one)."""
    from rich.console import Console

    Console(file=sys.stdout, highlight=False, emoji=False).print(table)


def announce_model(choice) -> None:
    """One stderr line naming the model that answers, when the user did not name it
    (``using shipped:en (word2vec, English, shipped with textlab)``)."""
    notice = choice.notice()
    if notice:
        from textlab.runtime.output import say

        say(notice)
