"""Hypothesis fuzzing of the CLI entry points: random text and bytes (NUL, lone surrogates as
their invalid UTF-8 bytes, CR/CRLF, mixed scripts, combining marks) into tokenize, vocab build,
sentiment (stdin), eval-charlm, eval-lm and the word2vec queries, and random values (negative, huge,
NaN, garbage) for their options.

Each case has one correct answer, and the test checks it: exit 0 with the output that the
library's one-line functions predict (tokens per line, a vocabulary with exact counts,
neighbours with finite scores, ...), or one line ``textlab: error: ...`` that names what is
wrong (the bad option, the unknown word, the characters outside the alphabet). An ``internal
error`` line is a crash the CLI caught and always fails. ``TEXTLAB_FUZZ_SCALE=N`` runs N times
as many examples."""

from __future__ import annotations

import json
import math
import os
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.robustness.answers import (
    archive_magic,
    check_charlm_model,
    check_eval_charlm,
    check_eval_lm,
    check_wordlm_model,
    check_model_dir,
    check_ranked,
    check_tokenize_output,
    check_vocab_tsv,
    decode,
    error_line,
    refused,
    succeeded,
    text_lines,
    token_counts,
    word_documents,
)

FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
                database=None)


#: A longer fuzzing session: TEXTLAB_FUZZ_SCALE=20 runs 20 times as many examples per test.
SCALE = max(1, int(os.environ.get("TEXTLAB_FUZZ_SCALE", "1") or 1))


def fuzz(examples: int) -> settings:
    return settings(FUZZ, max_examples=examples * SCALE)


SPECIALS = ["\x00", "\r\n", "\r", "\n", "\t", " ", "\ud800", "\udfff", "\ufeff", "世界", "我来到北京", "مرحبا", "мир",
            "שלום", "😀", "e\u0301", "\u2028", "!!!", "...", "'s", "don't", "x" * 300, "king", "queen"]
texts = st.lists(st.one_of(st.characters(), st.sampled_from(SPECIALS)), max_size=60).map("".join)
# Lone surrogates cannot be UTF-8: "surrogatepass" writes the invalid bytes a broken file would hold.
raw_bytes = st.one_of(st.binary(max_size=600), texts.map(lambda t: t.encode("utf-8", "surrogatepass"))) \
    .filter(lambda data: not archive_magic(data))  # read as an archive, not text (tests/data/test_corpus.py)
# Option values: out of range, huge, negative, not numbers at all, or small and valid.
GARBAGE = ["nan", "inf", "-inf", "-0", "1e309", "", "0x10", "1_000", " 5", "٣", "--", "-1", "0", "1e-320"]
numbers = st.one_of(st.integers(-(2**70), 2**70).map(str), st.sampled_from(GARBAGE),
                    st.floats(allow_nan=True, allow_infinity=True).map(repr))


def plain_int(value: str) -> int | None:
    """The value when it is written as a plain decimal integer, else None (then whether the
    option parser accepts it, e.g. ``" 5"`` or ``"2.0"``, is its business: either answer is
    checked for what it must be)."""
    return int(value) if re.fullmatch(r"-?[0-9]+", value) else None


def in_range(value: str, low: int, high: int | None = None) -> bool | None:
    """True/False for a plain integer in/out of ``[low, high]``; None for anything else."""
    number = plain_int(value)
    return None if number is None else low <= number and (high is None or number <= high)


def option_refusal(result, what, validity: dict[str, bool | None]) -> bool:
    """True when the command was refused for one of the fuzzed options: then that value must
    not be a valid one, and the refusal is a usage error (exit 2) naming the option. False
    otherwise, after checking that no value known to be invalid got through."""
    line = error_line(result, what)
    named = [option for option in validity if line is not None and f"Invalid value for '{option}'" in line]
    if named:
        assert validity[named[0]] is not True, (what, line)
        assert result.exit_code == 2, (what, result.exit_code)
        return True
    assert all(valid is not False for valid in validity.values()), (what, "an invalid value got through", line)
    return False


def unknown_word(result, what, words: list[str], vocabulary: set[str]) -> None:
    """The refusal of a query with a word outside the vocabulary, which names that word."""
    line = refused(result, what, "is not in the vocabulary")
    unknown = [w for w in words if w not in vocabulary]
    assert any(repr(w) in line for w in unknown), (what, line)


@fuzz(25)
@given(data=raw_bytes, lang=st.sampled_from(["en", "zh", "auto", "none"]), keep_case=st.booleans())
def test_tokenize(cli, data, lang, keep_case):
    args = ["tokenize", "--lang", lang, "--workers", "1"] + (["--keep-case"] if keep_case else [])
    result = cli(*args, input=data)
    succeeded(result, args)
    check_tokenize_output(result.stdout, data, lang, lowercase=not keep_case)


@fuzz(12)
@given(data=raw_bytes, size=numbers, min_count=numbers)
def test_vocab_build(cli, tmp_path_factory, data, size, min_count):
    folder = tmp_path_factory.mktemp("vocab")
    (folder / "c.txt").write_bytes(data)
    args = ["vocab", "build", str(folder / "c.txt"), "-o", str(folder / "v.tsv"), "--size", size, "--min-count", min_count]
    result = cli(*args)
    if option_refusal(result, args, {"--size": in_range(size, 1), "--min-count": in_range(min_count, 1)}):
        assert not (folder / "v.tsv").exists()
        return
    succeeded(result, args)  # any bytes are readable text
    check_vocab_tsv(folder / "v.tsv", token_counts(data), int(float(size)), int(float(min_count)))


@fuzz(8)
@given(data=raw_bytes, lang=st.sampled_from(["en", "zh", "auto"]), as_json=st.booleans(),
       batch_size=st.one_of(st.integers(1, 300).map(str), numbers))
def test_sentiment_stdin(cli, data, lang, as_json, batch_size):
    args = ["sentiment", "--lang", lang, "--batch-size", batch_size] + (["--json"] if as_json else [])
    result = cli(*args, input=data)
    if option_refusal(result, args, {"--batch-size": in_range(batch_size, 1, 100_000)}):
        assert result.stdout == ""
        return
    succeeded(result, args)  # any bytes are readable text
    wanted = text_lines(data)
    got = result.stdout.split("\n")
    assert got[-1] == "" and len(got) - 1 == len(wanted), (data, result.stdout)
    for text, line in zip(wanted, got):
        if as_json:
            parsed = json.loads(line)
            if not text.strip():
                assert parsed == {"label": None, "probability": None, "positive": None}
                continue
            positive, probability = parsed["positive"], parsed["probability"]
            assert 0.0 <= positive <= 1.0 and 0.5 <= probability <= 1.0
            assert parsed["label"] == ("positive" if positive >= 0.5 else "negative")
            assert math.isclose(probability, max(positive, 1 - positive), abs_tol=2e-4)
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
    text = decode(data)
    text += "" if not text or text.endswith("\n") else "\n"  # every source ends with a line end
    check_eval_charlm(result, data, text, set(open(tiny_models["corpus"], encoding="utf-8").read()))


@fuzz(10)
@given(data=raw_bytes)
def test_eval_lm(cli, tmp_path_factory, tiny_models, data):
    from pathlib import Path

    path = tmp_path_factory.mktemp("heldout") / "t.txt"
    path.write_bytes(data)
    result = cli("eval-lm", "--model", tiny_models["wlm"], str(path), "--json")
    check_eval_lm(result, data, data, Path(tiny_models["wlm"]))


@fuzz(20)
@given(words=st.lists(st.one_of(texts, st.sampled_from(["king", "queen", "man", "woman", "the", "-k", "--", "-"])),
                      min_size=4, max_size=4),
       k=st.one_of(st.integers(1, 50).map(str), numbers), method=st.sampled_from(["add", "mul", "sub", ""]))
def test_neighbors_and_analogy(cli, tiny_models, words, k, method):
    from textlab.w2v.keyed_vectors import load_keyed_vectors

    vocabulary = set(load_keyed_vectors(tiny_models["w2v"]).words)
    words = [w.replace("\x00", "") for w in words]  # the OS cannot pass NUL in an argument
    good_k = in_range(k, 1, 100_000)

    args = ["neighbors", "--model", tiny_models["w2v"], "-k", k, "--json", "--", words[0]]
    result = cli(*args)
    if not option_refusal(result, args, {"-k": good_k}):
        if answered(result, args, words[:1], vocabulary):
            answer = json.loads(result.stdout)
            assert set(answer) == {"word", "results", "model"} and answer["word"] == words[0]
            assert answer["model"] == tiny_models["w2v"]
            check_ranked(answer["results"], folded(words[:1]), vocabulary, int(float(k)), -1.0, 1.0)

    a, b, c = words[1:]
    args = ["analogy", "--model", tiny_models["w2v"], "-k", k, "--method", method, "--json", "--", a, b, c]
    result = cli(*args)
    if not option_refusal(result, args, {"-k": good_k, "--method": method in ("add", "mul")}):
        if answered(result, args, [a, b, c], vocabulary):
            answer = json.loads(result.stdout)
            assert answer == {"a": a, "b": b, "c": c, "method": method, "results": answer["results"],
                              "model": tiny_models["w2v"]}
            # 3CosAdd: a cosine; 3CosMul: a product and ratio of cosines shifted to [0, 1].
            low, high = (-1.0, 1.0) if method == "add" else (0.0, 1e6)
            check_ranked(answer["results"], folded([a, b, c]), vocabulary, int(float(k)), low, high)


def folded(words: list[str]) -> set[str]:
    """The query words as given and lowercased (the vocabulary of a lowercasing model)."""
    return set(words) | {w.lower() for w in words}


def answered(result, what, words: list[str], vocabulary: set[str]) -> bool:
    """Queries with every word in the vocabulary are answered; a word outside it is refused
    by name, unless its lowercase form is a vocabulary word (a query may be case-folded)."""
    if all(w in vocabulary for w in words):
        succeeded(result, what)
        return True
    if error_line(result, what) is not None or not all(w.lower() in vocabulary for w in words):
        unknown_word(result, what, words, vocabulary)
        return False
    return True


# Commands with one option fuzzed; "{value}" is replaced. Each case: the command, the option,
# its valid range (int or float bounds; None for text) and a strategy of valid values. In-range
# values that would make a run long (many epochs, long generations) are not drawn: those are
# valid requests, not bad input.
W2V = ["train-w2v", "{corpus}", "--epochs", "1", "--min-count", "1", "-o", "{out}"]
LM = ["train-charlm", "{corpus}", "--epochs", "1", "--hidden", "8", "--layers", "1", "-o", "{out}"]
WLM = ["train-lm", "{corpus}", "--epochs", "1", "--embed-dim", "8", "--hidden", "8", "--seq-len", "8",
       "--precision", "fp32", "-o", "{out}"]
OPTION_CASES = {
    "tokenize --workers": (["tokenize", "--lang", "en", "--workers", "{value}"], (1, 256), st.integers(1, 3)),
    "generate --len": (["generate", "--model", "{lm}", "--len", "{value}"], (0, 10_000_000), st.integers(0, 200)),
    "generate --temperature": (["generate", "--model", "{lm}", "--len", "20", "--temperature", "{value}"],
                               (1e-4, 100.0), st.floats(1e-4, 100)),
    "generate --top-k": (["generate", "--model", "{lm}", "--len", "20", "--top-k", "{value}"], (1, None),
                         st.integers(1, 10**12)),
    "generate --seed": (["generate", "--model", "{lm}", "--len", "20", "--seed", "{value}"], None, texts),
    "neighbors -k": (["neighbors", "king", "--model", "{w2v}", "-k", "{value}"], (1, 100_000), st.integers(1, 10**5)),
    "train-w2v --dim": (W2V + ["--dim", "{value}"], (1, 10_000), st.integers(1, 300)),
    "train-w2v --window": (W2V + ["--dim", "8", "--window", "{value}"], (1, 100), st.integers(1, 100)),
    "train-w2v --lr": (W2V + ["--dim", "8", "--lr", "{value}"], (0.0, 10.0), st.floats(0, 10)),  # 0 = the default rate
    "train-w2v --sample": (W2V + ["--dim", "8", "--sample", "{value}"], (0.0, 1.0), st.floats(0, 1)),
    "train-w2v --batch-size": (W2V + ["--dim", "8", "--batch-size", "{value}"], (0, 10_000_000), st.integers(0, 10**7)),  # 0 = the default step
    "train-charlm --seq-len": (LM + ["--batch-size", "4", "--seq-len", "{value}"], (2, 100_000), st.integers(2, 10**5)),
    "train-charlm --batch-size": (LM + ["--seq-len", "8", "--batch-size", "{value}"], (1, 100_000),
                                  st.integers(1, 10**5)),
    "train-charlm --dropout": (LM + ["--seq-len", "8", "--batch-size", "4", "--dropout", "{value}"], (0.0, 0.95),
                               st.floats(0, 0.95)),
    "train-charlm --valid-fraction": (LM + ["--seq-len", "8", "--batch-size", "4", "--valid-fraction", "{value}"],
                                      (1e-4, 0.9), st.floats(1e-4, 0.9)),
    "train-lm --vocab-size": (WLM + ["--batch-size", "2", "--vocab-size", "{value}"], (1, 5_000_000),
                              st.integers(1, 10**6)),
    "train-lm --batch-size": (WLM + ["--batch-size", "{value}"], (1, 100_000), st.integers(1, 10**5)),
    "train-lm --valid-fraction": (WLM + ["--batch-size", "2", "--valid-fraction", "{value}"], (1e-4, 0.9),
                                  st.floats(1e-4, 0.9)),
    "generate --seed (word LM)": (["generate", "--model", "{wlm}", "--len", "5", "--seed", "{value}"], None, texts),
}
PLAIN_FLOAT = re.compile(r"-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?")


def valid_value(value: str, bounds) -> bool | None:
    """Whether a plain number lies in ``bounds``; None for other spellings (the parser decides)."""
    low, high = bounds
    if isinstance(low, int):
        return in_range(value, low, high)
    if not PLAIN_FLOAT.fullmatch(value):
        return None
    number = float(value)
    return low <= number and (high is None or number <= high)


@fuzz(38)
@given(data=st.data(), case=st.sampled_from(sorted(OPTION_CASES)))
def test_option_values(cli, tmp_path_factory, tiny_models, data, case):
    template, bounds, valid = OPTION_CASES[case]
    option = case.split()[1]
    if data.draw(st.booleans(), label="from the valid range"):
        value, validity = data.draw(valid.map(str), label="value").replace("\x00", ""), True
    else:
        value = data.draw(numbers, label="value")
        validity = None if bounds is None else valid_value(value, bounds)
    out = tmp_path_factory.mktemp("opt") / "model"
    args = [part.format(value=value, out=out, **tiny_models) for part in template]
    result = cli(*args, input="A king and a queen.\n")
    if option_refusal(result, args, {option: validity}):
        return
    if case == "generate --seed":
        alphabet = set(open(tiny_models["corpus"], encoding="utf-8").read())
        if not value:
            refused(result, args, "the seed must not be empty")
            return
        if set(value) - alphabet:
            unknown = sum(c not in alphabet for c in value)
            line = refused(result, args, f"the seed has {unknown:,} of {len(value):,} characters")
            assert "outside the alphabet" in line, (args, line)
            return
    if case in ("train-w2v --lr", "train-w2v --batch-size") and error_line(result, args) is not None:
        # Updates summed over a large batch, or a huge rate, can blow a tiny vocabulary up:
        # the run says so and saves nothing.
        refused(result, args, "training diverged")
        assert not out.exists()
        return
    if case == "generate --seed (word LM)":
        # the seed as read (lone surrogates replaced, as in files), then at most 5 vocabulary words
        from textlab.text import TokenizerOptions, tokenize_line

        seed = value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        if not tokenize_line(seed, TokenizerOptions(lang="en", lowercase=True)):
            refused(result, args, "holds no words")
            return
        succeeded(result, args)
        vocabulary = set(open(os.path.join(tiny_models["wlm"], "vocab.tsv"), encoding="utf-8").read().split())
        seed = seed.replace("\r\n", "\n")  # as click's test runner reads stdout
        assert result.stdout.startswith(seed) and result.stdout.endswith("\n")
        assert set(result.stdout[len(seed):].split()) <= vocabulary and len(result.stdout[len(seed):].split()) <= 5
        return
    if case == "train-lm --batch-size" and error_line(result, args) is not None:
        # each stream needs 2 of the training ids: the documents but the last, each with its <eos>, and the first <eos>
        documents = word_documents(open(tiny_models["corpus"], "rb").read())
        ids = sum(len(d) + 1 for d in documents[:-1]) + 1
        assert 2 * int(float(value)) > ids, (args, result.stderr)
        refused(result, args, f"({ids} tokens) is too short for {int(float(value))} streams; use a smaller --batch-size")
        return
    if case == "train-charlm --batch-size" and error_line(result, args) is not None:
        # Each of the streams needs at least two characters of the training text.
        corpus_chars = len(open(tiny_models["corpus"], encoding="utf-8").read())
        assert 2 * int(float(value)) > 0.9 * corpus_chars, (args, result.stderr)
        refused(result, args, f"is too short for {int(float(value))} streams; use a smaller --batch-size")
        return
    succeeded(result, args)
    if case.startswith("tokenize"):
        assert result.stdout == "a king and a queen\n"
    elif case == "neighbors -k":
        rows = [line.split() for line in result.stdout.splitlines()]
        assert len(rows) == min(int(float(value)), len(open(os.path.join(tiny_models["w2v"], "vocab.tsv")).readlines()) - 1)
        assert all(len(row) == 2 and row[0] != "king" and -1 <= float(row[1]) <= 1 for row in rows), rows
    elif case.startswith("generate"):
        seed = value if case == "generate --seed" else "\n"
        length = int(float(value)) if case == "generate --len" else 20
        assert result.stdout.startswith(seed) and len(result.stdout) == len(seed) + length + 1
        alphabet = set(open(tiny_models["corpus"], encoding="utf-8").read())
        assert set(result.stdout[len(seed):-1]) <= alphabet and result.stdout.endswith("\n")
    elif case.startswith("train-lm"):
        card = check_wordlm_model(out)
        if option == "--vocab-size":
            distinct = {w for d in word_documents(open(tiny_models["corpus"], "rb").read()) for w in d}
            assert card["config"]["vocab_size"] == min(int(float(value)), len(distinct)) + 3
    elif case.startswith("train-w2v"):
        from textlab.w2v.keyed_vectors import load_keyed_vectors

        vectors = load_keyed_vectors(str(out))
        assert vectors.dim == (int(float(value)) if option == "--dim" else 8)
        check_model_dir(out, "vocab.tsv")
    else:
        check_charlm_model(out, set(open(tiny_models["corpus"], encoding="utf-8").read()))
