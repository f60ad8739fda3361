"""Bad input never crashes the foundation commands; saves survive kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.robustness.answers import archive_magic, check_tokenize_output, check_vocab_tsv, succeeded, token_counts


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2000), lang=st.sampled_from(["en", "zh", "auto", "none"]))
def test_tokenize_survives_random_bytes(cli, data, lang):
    result = cli("tokenize", "--lang", lang, "--workers", "1", input=data)
    succeeded(result, (lang, data))
    check_tokenize_output(result.stdout, data, lang)


@pytest.mark.parametrize("data", [b"\xef", b"\xef\xbb", b"\xef\xbb\xbf", b"\xef\xbb\xbfa b\n", b"a\xef"])
def test_a_broken_or_whole_byte_order_mark_is_read_as_text_is(cli, data):
    """A stream of one or two bytes that begin a BOM is one unreadable character (one line; the
    utf-8-sig codec turned it into nothing, found by the fuzz test above); a whole BOM is dropped."""
    result = cli("tokenize", "--lang", "en", "--workers", "1", input=data)
    succeeded(result, data)
    check_tokenize_output(result.stdout, data, "en")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=3000).filter(lambda data: not archive_magic(data)))  # (an archive: not text)
def test_vocab_build_survives_random_files(cli, tmp_path_factory, data):
    """Any bytes are a readable corpus: the vocabulary holds exactly its tokens and counts."""
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "corpus.txt").write_bytes(data)
    args = ["vocab", "build", str(folder / "corpus.txt"), "-o", str(folder / "v.tsv"), "--min-count", "1"]
    succeeded(cli(*args), (args, data))
    check_vocab_tsv(folder / "v.tsv", token_counts(data))


def test_mixed_scripts_crlf_and_long_words(cli):
    text = "Hello 世界 مرحبا мир\r\n" + "x" * 100_000 + "\r\n" + "!!!\r\n"
    result = cli("tokenize", input=text.encode())
    assert result.exit_code == 0
    lines = result.stdout.split("\n")
    assert lines[0].split()[:2] == ["hello", "世界"] and len(lines[1]) == 100_000 and lines[2] == ""


def test_single_huge_line_without_newline(cli):
    line = ("word " * 3_000_000).encode()  # 15 MB, no newline
    result = cli("tokenize", "--lang", "none", input=line)
    assert result.exit_code == 0
    assert result.stdout.count("\n") == 1 and result.stdout.count("word") == 3_000_000


def test_kill_9_during_save_leaves_old_model_or_nothing(tmp_path):
    target = tmp_path / "model"
    script = textwrap.dedent(f"""
        import torch
        from textlab.store.cards import ModelCard
        from textlab.store.files import save_model
        big = {{"w": torch.randn(4000, 1000)}}
        i = 0
        while True:
            save_model({str(target)!r}, ModelCard(kind="charlm", config={{"i": i}}), big, force=True)
            print("saved", i, flush=True)
            i += 1
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().startswith("saved")  # at least one complete model exists
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    from textlab.store.cards import read_card
    from textlab.store.files import load_tensors

    assert read_card(target).kind == "charlm"
    assert load_tensors(target)["w"].shape == (4000, 1000)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "model"]
    assert all(name.startswith(".model.") for name in leftovers)  # temp names only, never the final one
