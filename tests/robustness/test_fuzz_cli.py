"""Hypothesis fuzzing of the CLI entry points: random text and bytes (NUL, lone surrogates as
their invalid UTF-8 bytes, CR/CRLF, mixed scripts, combining marks) into tokenize, vocab build,
sentiment (stdin), eval-charlm and the word2vec queries, and random values (negative, huge,
NaN, garbage) for their options. Each run must exit 0 with sensible output, or exit non-zero
with one line ``textlab: error: ...`` (usage errors included), never a traceback.

``TEXTLAB_FUZZ_STRICT=1`` also refuses ``internal error`` lines (an escaped exception that the
CLI caught: a bug even when it is one line); ``TEXTLAB_FUZZ_SCALE=N`` runs N times as many
examples."""

from __future__ import annotations

import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
                database=None)


#: A longer fuzzing session: TEXTLAB_FUZZ_SCALE=20 runs 20 times as many examples per test.
SCALE = max(1, int(os.environ.get("TEXTLAB_FUZZ_SCALE", "1") or 1))


def fuzz(examples: int) -> settings:
    return settings(FUZZ, max_examples=examples * SCALE)
STRICT = os.environ.get("TEXTLAB_FUZZ_STRICT", "") not in ("", "0")

SPECIALS = ["\x00", "\r\n", "\r", "\n", "\t", " ", "\ud800", "\udfff", "\ufeff", "世界", "我来到北京", "مرحبا", "мир",
            "שלום", "😀", "e\u0301", "\u2028", "!!!", "...", "'s", "don't", "x" * 300, "king", "queen"]
texts = st.lists(st.one_of(st.characters(), st.sampled_from(SPECIALS)), max_size=60).map("".join)
# Lone surrogates cannot be UTF-8: "surrogatepass" writes the invalid bytes a broken file would hold.
raw_bytes = st.one_of(st.binary(max_size=600), texts.map(lambda t: t.encode("utf-8", "surrogatepass")))
# Option values: out of range, huge, negative, not numbers at all, or small and valid.
GARBAGE = ["nan", "inf", "-inf", "-0", "1e309", "", "0x10", "1_000", " 5", "٣", "--", "-1", "0", "1e-320"]
numbers = st.one_of(st.integers(-(2**70), 2**70).map(str), st.sampled_from(GARBAGE),
                    st.floats(allow_nan=True, allow_infinity=True).map(repr))


def expected_lines(data: bytes) -> list[str]:
    """Input lines as textlab reads them: UTF-8 with replacement, universal newlines."""
    text = data.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    return lines[:-1] if text.endswith("\n") or not text else lines


def refused_or_ok(result, what) -> bool:
    """True when the command succeeded; asserts the one-line refusal otherwise."""
    stderr = result.stderr or ""
    assert "Traceback" not in stderr, (what, stderr[-1500:])
    if result.exit_code == 0:
        return True
    lines = stderr.strip().splitlines()
    assert lines and lines[-1].startswith("textlab: error:"), (what, result.exit_code, stderr[-800:])
    assert sum(line.startswith("textlab: error:") for line in lines) == 1, (what, stderr[-800:])
    if STRICT:
        assert "internal error" not in lines[-1], (what, lines[-1])
    return False


@fuzz(25)
@given(data=raw_bytes, lang=st.sampled_from(["en", "zh", "auto", "none"]), keep_case=st.booleans())
def test_tokenize(cli, data, lang, keep_case):
    args = ["tokenize", "--lang", lang, "--workers", "1"] + (["--keep-case"] if keep_case else [])
    result = cli(*args, input=data)
    assert refused_or_ok(result, args), "tokenize refused readable input"
    wanted = expected_lines(data.removeprefix(b"\xef\xbb\xbf"))
    assert result.stdout.count("\n") == len(wanted), (data, result.stdout)


@fuzz(12)
@given(data=raw_bytes, size=numbers, min_count=numbers)
def test_vocab_build(cli, tmp_path_factory, data, size, min_count):
    folder = tmp_path_factory.mktemp("vocab")
    (folder / "c.txt").write_bytes(data)
    args = ["vocab", "build", str(folder / "c.txt"), "-o", str(folder / "v.tsv"), "--size", size, "--min-count", min_count]
    if refused_or_ok(cli(*args), args):
        from textlab.text import Vocab

        vocab = Vocab.load(folder / "v.tsv")
        assert vocab.words[0] == "<unk>" and len(vocab) >= 1


@fuzz(8)
@given(data=raw_bytes, lang=st.sampled_from(["en", "zh", "auto"]), as_json=st.booleans(),
       batch_size=st.one_of(st.integers(1, 300).map(str), numbers))
def test_sentiment_stdin(cli, data, lang, as_json, batch_size):
    args = ["sentiment", "--lang", lang, "--batch-size", batch_size] + (["--json"] if as_json else [])
    result = cli(*args, input=data)
    if not refused_or_ok(result, args):
        assert "--batch-size" in result.stderr  # only a bad option may refuse input
        return
    wanted = expected_lines(data)
    got = result.stdout.split("\n")[:-1]
    assert len(got) == len(wanted), (data, result.stdout)
    for text, line in zip(wanted, got):
        if as_json:
            parsed = json.loads(line)
            assert parsed["label"] in (None, "positive", "negative")
            assert (parsed["label"] is None) == (not text.strip())
        elif text.strip():
            label, probability = line.split("\t")
            assert label in ("positive", "negative") and 0.5 <= float(probability) <= 1.0
        else:
            assert line == ""


@fuzz(15)
@given(data=raw_bytes)
def test_eval_charlm(cli, tmp_path_factory, tiny_models, data):
    path = tmp_path_factory.mktemp("heldout") / "t.txt"
    path.write_bytes(data)
    result = cli("eval-charlm", "--model", tiny_models["lm"], str(path), "--json")
    if refused_or_ok(result, data):
        figures = json.loads(result.stdout)
        assert figures["chars"] >= 1  # under two characters is refused with a one-line error
        assert figures["loss"] >= 0 and figures["perplexity"] >= 1


@fuzz(20)
@given(words=st.lists(st.one_of(texts, st.sampled_from(["king", "queen", "man", "woman", "the", "-k", "--", "-"])),
                      min_size=4, max_size=4),
       k=st.one_of(st.integers(1, 50).map(str), numbers), method=st.sampled_from(["add", "mul", "sub", ""]))
def test_neighbors_and_analogy(cli, tiny_models, words, k, method):
    words = [w.replace("\x00", "") for w in words]  # the OS cannot pass NUL in an argument
    result = cli("neighbors", "--model", tiny_models["w2v"], "-k", k, "--json", "--", words[0])
    if refused_or_ok(result, ("neighbors", words[0], k)):
        rows = json.loads(result.stdout)
        assert isinstance(rows, (list, dict))
    result = cli("analogy", "--model", tiny_models["w2v"], "-k", k, "--method", method, "--json", "--", *words[1:])
    refused_or_ok(result, ("analogy", words[1:], k, method))


# Commands with one option fuzzed; "{value}" is replaced. In-range values that would make a run
# long (many epochs, long generations) are not drawn: those are valid requests, not bad input.
OPTION_CASES = {
    "tokenize --workers": (["tokenize", "--lang", "en", "--workers", "{value}"], st.integers(1, 3)),
    "generate --len": (["generate", "--model", "{lm}", "--len", "{value}"], st.integers(0, 200)),
    "generate --temperature": (["generate", "--model", "{lm}", "--len", "20", "--temperature", "{value}"],
                               st.floats(1e-4, 100)),
    "generate --top-k": (["generate", "--model", "{lm}", "--len", "20", "--top-k", "{value}"], st.integers(1, 10**12)),
    "generate --seed": (["generate", "--model", "{lm}", "--len", "20", "--seed", "{value}"], texts),
    "neighbors -k": (["neighbors", "king", "--model", "{w2v}", "-k", "{value}"], st.integers(1, 10**5)),
    "train-w2v --dim": (["train-w2v", "{corpus}", "--epochs", "1", "--min-count", "1", "--dim", "{value}",
                         "-o", "{out}"], st.integers(1, 300)),
    "train-w2v --window": (["train-w2v", "{corpus}", "--epochs", "1", "--min-count", "1", "--dim", "8",
                            "--window", "{value}", "-o", "{out}"], st.integers(1, 100)),
    "train-w2v --lr": (["train-w2v", "{corpus}", "--epochs", "1", "--min-count", "1", "--dim", "8",
                        "--lr", "{value}", "-o", "{out}"], st.floats(1e-6, 10)),
    "train-w2v --sample": (["train-w2v", "{corpus}", "--epochs", "1", "--min-count", "1", "--dim", "8",
                            "--sample", "{value}", "-o", "{out}"], st.floats(0, 1)),
    "train-w2v --batch-size": (["train-w2v", "{corpus}", "--epochs", "1", "--min-count", "1", "--dim", "8",
                                "--batch-size", "{value}", "-o", "{out}"], st.integers(1, 10**7)),
    "train-charlm --seq-len": (["train-charlm", "{corpus}", "--epochs", "1", "--hidden", "8", "--layers", "1",
                                "--batch-size", "4", "--seq-len", "{value}", "-o", "{out}"], st.integers(2, 10**5)),
    "train-charlm --batch-size": (["train-charlm", "{corpus}", "--epochs", "1", "--hidden", "8", "--layers", "1",
                                   "--seq-len", "8", "--batch-size", "{value}", "-o", "{out}"], st.integers(1, 10**5)),
    "train-charlm --dropout": (["train-charlm", "{corpus}", "--epochs", "1", "--hidden", "8", "--layers", "1",
                                "--seq-len", "8", "--batch-size", "4", "--dropout", "{value}", "-o", "{out}"],
                               st.floats(0, 0.95)),
    "train-charlm --valid-fraction": (["train-charlm", "{corpus}", "--epochs", "1", "--hidden", "8", "--layers", "1",
                                       "--seq-len", "8", "--batch-size", "4", "--valid-fraction", "{value}",
                                       "-o", "{out}"], st.floats(1e-4, 0.9)),
}


@fuzz(30)
@given(data=st.data(), case=st.sampled_from(sorted(OPTION_CASES)))
def test_option_values(cli, tmp_path_factory, tiny_models, data, case):
    template, valid = OPTION_CASES[case]
    value = data.draw(st.one_of(numbers, valid.map(str)), label="value").replace("\x00", "")
    out = tmp_path_factory.mktemp("opt") / "model"
    args = [part.format(value=value, out=out, **tiny_models) for part in template]
    result = cli(*args, input="A king and a queen.\n")
    if refused_or_ok(result, args) and case.startswith("train-"):
        assert (out / "config.json").is_file() and (out / "weights.safetensors").is_file()
