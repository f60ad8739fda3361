"""The CLI shell: help, one-line errors, tokenize end to end (in-process and as a real process)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from textlab.cli import app


def _commands():
    from typer.main import get_command

    group = get_command(app)
    return group, sorted(group.commands)


def test_help_lists_every_command(cli):
    result = cli("--help")
    assert result.exit_code == 0
    _, names = _commands()
    for name in names:
        assert name in result.stdout


def test_every_command_help_has_an_example(cli):
    group, names = _commands()
    for name in names:
        sub = group.commands[name]
        leaves = [[name, leaf] for leaf in getattr(sub, "commands", {})] or [[name]]
        for path in leaves:
            result = cli(*path, "--help")
            assert result.exit_code == 0, path
            text = " ".join(result.stdout.split())
            assert "Example:" in text and "textlab " + path[0] in text.split("Example:", 1)[1], path
            assert "../shared" not in text and "shared/data" not in text, path  # paths users have


def test_no_help_text_is_eaten_as_rich_markup():
    """A lowercase word in square brackets is a rich markup tag: it vanishes from --help
    (eval-w2v showed "Analogy questions file ." for "[gensim's questions-words.txt]")."""
    import re

    group, _ = _commands()
    tag = re.compile(r"\[[a-z#/@][^\[\]]*\]")

    def walk(command, path):
        for param in command.params:
            assert not tag.search(getattr(param, "help", None) or ""), (path, param.name, param.help)
        assert not tag.search(command.help or ""), path
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, path + [name])

    walk(group, ["textlab"])


def test_eval_w2v_help_names_the_default_question_set(cli):
    result = cli("eval-w2v", "--help")
    assert result.exit_code == 0
    words = " ".join(line.strip("│ ") for line in result.stdout.splitlines()).split()
    text = " ".join(words)
    assert "default: gensim's questions-words.txt for English vectors, CA8 for Chinese ones" in text


def test_version(cli):
    from importlib.metadata import version

    import textlab

    result = cli("--version")
    assert result.exit_code == 0 and result.stdout == f"textlab {version('textlab')}\n"
    assert version("textlab") == textlab.__version__


@pytest.mark.parametrize("args", [[], ["vocab"]])
def test_no_arguments_print_the_help_once(cli, args):
    result = cli(*args)
    assert result.exit_code == 0
    assert result.stdout.count("Usage:") == 1 and "Commands" in result.stdout
    assert result.stderr == ""


def test_tokenize_chinese_and_english(cli):
    assert cli("tokenize", "--lang", "zh", input="我来到北京清华大学\n").stdout == "我 来到 北京 清华大学\n"
    out = cli("tokenize", "--lang", "en", input="Don't <br />stop believing!\n").stdout
    assert out == "don't stop believing\n"


def test_tokenize_keeps_line_structure_and_empty_lines(cli):
    out = cli("tokenize", "--lang", "en", input="A b\n\n!!!\nC\n").stdout
    assert out == "a b\n\n\nc\n"


def test_tokenize_empty_input(cli):
    result = cli("tokenize", input="")
    assert result.exit_code == 0 and result.stdout == ""


@pytest.mark.parametrize("args,needle", [
    (["tokenize", "/no/such/file"], "no such file"),
    (["tokenize", "--lang", "xx"], "--lang"),
    (["tokenize", "--bogus"], "No such option"),
    (["vocab", "build"], "Missing argument"),
])
def test_user_errors_are_one_line(cli, args, needle):
    result = cli(*args)
    assert result.exit_code != 0
    assert needle in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_directory_where_a_file_is_expected(cli, tmp_path):
    (tmp_path / "d").mkdir()
    result = cli("vocab", "build", str(tmp_path / "x.txt"), "-o", str(tmp_path / "d"))
    assert result.exit_code != 0 and len(result.stderr.strip().splitlines()) == 1


def _run(args, data: bytes, env_extra=None):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "textlab", *args], input=data, capture_output=True, env=env, timeout=120)


def test_real_process_invalid_utf8_and_nul_bytes():
    proc = _run(["tokenize"], b"\xff\xfa\x00abc\n")  # (not \xff\xfe: that begins a UTF-16 text)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"abc\n"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_real_process_reads_utf16_and_utf32_by_their_byte_order_mark(encoding):
    data = ("\ufeff" if encoding.endswith("-be") else "") + "Hello world\nsecond line\n"
    proc = _run(["tokenize"], data.encode(encoding))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"hello world\nsecond line\n"


@pytest.mark.parametrize("command", ["tokenize", "sentiment"])
def test_real_process_with_standard_input_closed(command):
    """Started with stdin closed (`textlab tokenize <&-`): no input, so no output, exit 0."""
    proc = subprocess.run(["bash", "-c", f'exec "$0" -m textlab {command} <&-', sys.executable],
                          capture_output=True, timeout=120)
    assert (proc.returncode, proc.stdout) == (0, b""), proc.stderr
    assert b"error" not in proc.stderr and b"Traceback" not in proc.stderr, proc.stderr


def test_real_process_missing_file_and_debug_traceback():
    proc = _run(["tokenize", "/no/such/file"], b"")
    assert proc.returncode == 1
    assert proc.stderr.decode().count("\n") == 1 and b"Traceback" not in proc.stderr
    debug = _run(["tokenize", "/no/such/file"], b"", {"TEXTLAB_DEBUG": "1"})
    assert debug.returncode != 0 and b"Traceback" in debug.stderr


def test_real_process_parallel_tokenize_of_a_large_input():
    lines = [f"Review {i}: a <b>great</b> movie, truly great!" for i in range(60000)]
    proc = _run(["tokenize", "--workers", "2"], ("\n".join(lines) + "\n").encode())
    assert proc.returncode == 0
    out = proc.stdout.decode().splitlines()
    assert len(out) == 60000
    assert out[12345] == "review 12345 a great movie truly great"


@pytest.mark.parametrize("raised, code, line", [
    (KeyboardInterrupt, 130, "textlab: interrupted\n"),
    (EOFError("ran out"), 1, "textlab: error: internal error (EOFError: ran out); set TEXTLAB_DEBUG=1 for the traceback\n"),
])
def test_interruptions_and_escaped_eof_errors_are_told_apart(cli, monkeypatch, raised, code, line):
    """Typer turns KeyboardInterrupt into a silent exit 130 and EOFError into an 'abort': Ctrl-C
    is said in one line, and an EOFError escaping a command is a crash, not an interruption."""
    import textlab.text.tokenize

    def fail(*args, **kwargs):
        raise raised

    monkeypatch.setattr(textlab.text.tokenize, "tokenize_pieces", fail)
    result = cli("tokenize", input="a\n")
    assert (result.exit_code, result.stderr) == (code, line)


@pytest.mark.parametrize("args", [
    ["generate", "--model", "shipped:shakespeare", "--len", "20000", "--stream"],
    ["generate", "--model", "shipped:shakespeare", "--len", "20000"],
    ["export-w2v", "--model", "shipped:en", "-"],
])
def test_a_reader_that_stops_early_ends_the_command_quietly(args):
    """`textlab generate --stream | head -c 5`: click would exit 1 on the broken pipe."""
    proc = subprocess.Popen([sys.executable, "-m", "textlab", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.read(5)
    proc.stdout.close()
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0 and b"error" not in stderr, stderr
