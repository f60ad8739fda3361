"""What a correct answer looks like, for the robustness tests.

A command either succeeds (exit 0, and the caller then checks its output) or refuses with
exactly one line ``textlab: error: ...`` at the end of stderr and a non-zero exit. An
``internal error`` line is a crash that the CLI caught: never a correct answer.

The oracles below read input the way textlab documents it (UTF-8 with invalid bytes replaced,
a leading BOM dropped, CR and CRLF turned into LF) and compute the expected result from the
library's one-line tokenizer, so that a whole command is checked against its smallest part.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path


def error_line(result, what) -> str | None:
    """None when the command succeeded; else its single error line (checked)."""
    stderr = result.stderr or ""
    assert "Traceback" not in stderr and "Fatal Python error" not in stderr, (what, stderr[-1500:])
    if result.exit_code == 0:
        assert "textlab: error" not in stderr, (what, stderr[-800:])
        return None
    lines = stderr.strip().splitlines()
    assert lines and lines[-1].startswith("textlab: error: "), (what, result.exit_code, stderr[-800:])
    assert sum(line.startswith("textlab: error") for line in lines) == 1, (what, stderr[-800:])
    assert "internal error" not in lines[-1], (what, lines[-1])
    return lines[-1]


def refused(result, what, *fragments: str, code: int | None = None) -> str:
    """Assert a one-line refusal that says one of ``fragments`` (case-insensitive)."""
    line = error_line(result, what)
    assert line is not None, (what, "succeeded, expected a refusal", result.stdout[-500:])
    assert any(f.lower() in line.lower() for f in fragments), (what, line, fragments)
    if code is not None:
        assert result.exit_code == code, (what, result.exit_code, line)
    return line


def succeeded(result, what) -> None:
    line = error_line(result, what)
    assert line is None, (what, line)


def usage_error_for(result, what, option: str) -> str:
    """The one-line refusal of a bad value for ``option`` (exit 2, naming the option)."""
    return refused(result, what, f"'{option}'", code=2)


# --------------------------------------------------------------------------- oracles


#: Byte-order marks of the encodings textlab decodes by their mark (UTF-32's before UTF-16's).
BOMS = ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"), (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"))


def decode(data: bytes) -> str:
    """Bytes as textlab reads a text file: UTF-8 (BOM dropped, bad bytes replaced) or, after
    their byte-order mark, UTF-32 or UTF-16; LF lines."""
    for mark, encoding in BOMS:
        if data.startswith(mark):
            text = data.decode(encoding, errors="replace")
            break
    else:
        text = data.decode("utf-8", errors="replace").removeprefix("\ufeff")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def archive_magic(data: bytes) -> bool:
    """Whether a file's bytes begin as a gzip, bzip2, xz or zip file does: textlab reads such a
    file as one whatever its name (garbage after the mark is a damaged archive, refused), so the
    text oracles here do not apply to it (tests/data/test_corpus.py covers those files)."""
    import re

    return data.startswith((b"\x1f\x8b", b"\xfd7zXZ\x00", b"PK\x03\x04")) or \
        re.match(rb"BZh[1-9](1AY&SY|\x17rE8P\x90)", data) is not None


def text_lines(data: bytes) -> list[str]:
    """Input lines without their line ends (a last line without a newline still counts)."""
    text = decode(data)
    lines = text.split("\n")
    return lines[:-1] if text.endswith("\n") or not text else lines


def tokenized(data: bytes, lang: str = "auto", lowercase: bool = True) -> list[str]:
    """One string of space-separated tokens per input line."""
    from textlab.text import TokenizerOptions, tokenize_line

    options = TokenizerOptions(lang=lang, lowercase=lowercase)
    return [" ".join(tokenize_line(line, options)) for line in text_lines(data)]


def token_counts(data: bytes, lang: str = "auto") -> Counter:
    counter: Counter = Counter()
    for line in tokenized(data, lang):
        counter.update(line.split())
    return counter


def check_tokenize_output(stdout: str, data: bytes, lang: str = "auto", lowercase: bool = True) -> None:
    wanted = tokenized(data, lang, lowercase)
    assert stdout == "".join(line + "\n" for line in wanted), (data[:200], stdout[:500])


def check_vocab_tsv(path: Path, counts: Counter, size: int | None = None, min_count: int = 1) -> None:
    """A vocabulary file: ``<unk>`` first (counting the tokens left out), then the kept words
    with their exact counts, most frequent first, ties alphabetical."""
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "", "the file ends with a newline"
    rows = [line.split("\t") for line in lines[:-1]]
    assert all(len(row) == 2 and row[0] and row[1].isdigit() for row in rows), rows[:5]
    kept = sorted(((w, c) for w, c in counts.items() if c >= min_count and w != "<unk>"), key=lambda wc: (-wc[1], wc[0]))
    if size is not None:
        kept = kept[:size]
    unk = sum(counts.values()) - sum(c for _, c in kept)
    assert [(w, int(c)) for w, c in rows] == [("<unk>", unk)] + kept


def check_model_dir(path: Path, *files: str) -> dict:
    """A saved model directory: its card (returned) and the files every model has."""
    assert path.is_dir(), path
    for name in ("config.json", "weights.safetensors", *files):
        assert (path / name).is_file() and (path / name).stat().st_size > 0, (path, name)
    card = json.loads((path / "config.json").read_text())
    assert isinstance(card, dict) and card.get("kind"), card
    return card


def check_word2vec_model(path: Path, words: set[str] | None = None) -> None:
    """A loadable word2vec model with finite vectors (and, when given, exactly ``words``)."""
    import numpy as np

    from textlab.w2v.keyed_vectors import load_keyed_vectors

    assert check_model_dir(path, "vocab.tsv")["kind"] == "word2vec"
    vectors = load_keyed_vectors(str(path))
    assert np.isfinite(vectors.vectors).all()
    if words is not None:
        assert set(vectors.words) == words


def check_charlm_model(path: Path, alphabet: set[str] | None = None) -> None:
    from textlab.charlm.saving import load_charlm

    assert check_model_dir(path)["kind"] == "charlm"
    _model, codec, _card = load_charlm(path, "cpu")
    if alphabet is not None:
        assert set(codec.alphabet) == alphabet


def check_ranked(rows: list, exclude: set[str], vocabulary: set[str], k: int, low: float, high: float) -> None:
    """Query results: ``min(k, available)`` distinct vocabulary words (query words excluded)
    with finite scores in ``[low, high]``, best first."""
    words = [row["word"] for row in rows]
    scores = [row["score"] for row in rows]
    assert len(words) == len(set(words)) == min(k, len(vocabulary - exclude)), (rows, k)
    assert set(words) <= vocabulary - exclude, (words, exclude)
    assert all(isinstance(s, float) and math.isfinite(s) and low - 1e-5 <= s <= high + 1e-5 for s in scores), scores
    assert scores == sorted(scores, reverse=True), scores


def check_eval_charlm(result, what, text: str, alphabet: set[str], max_unknown: float = 0.01) -> None:
    """``eval-charlm`` on ``text`` (as read, line end added) with a model of ``alphabet``: a
    text with more than ``max_unknown`` of its characters outside the alphabet is refused with
    the count; a smaller share is measured without them, and said so; under 2 characters left
    is refused by name."""
    if len(text) < 2:
        refused(result, what, f"holds {len(text)} character(s)")
        return
    unknown = sum(c not in alphabet for c in text)
    if unknown / len(text) > max_unknown:
        line = refused(result, what, f"has {unknown:,} of {len(text):,} characters")
        assert "outside the alphabet" in line, (what, line)
        return
    kept = "".join(c for c in text if c in alphabet)
    if len(kept) < 2:
        refused(result, what, f"holds {len(kept)} character(s)")
        return
    succeeded(result, what)
    if unknown:
        assert "measured without them" in result.stderr, (what, result.stderr[-500:])
    figures = json.loads(result.stdout)
    assert figures["chars"] == len(kept) - 1, (what, figures)
    assert math.isfinite(figures["loss"]) and figures["loss"] >= 0
    assert math.isclose(figures["perplexity"], math.exp(figures["loss"]), rel_tol=1e-6)
    assert math.isclose(figures["bpc"], figures["loss"] / math.log(2), rel_tol=1e-6)


def word_documents(data: bytes) -> list[list[str]]:
    """The documents ``train-lm`` reads from a text file: each line's tokens (the word models'
    tokenizer, in the language most of the first 500 lines are in), lines without any left out."""
    from textlab.text import TokenizerOptions, guess_lang, tokenize_line

    lines = text_lines(data)
    options = TokenizerOptions(lang=guess_lang([line for line in lines if line][:500]), lowercase=True, stopwords=False)
    return [tokens for tokens in (tokenize_line(line, options) for line in lines) if tokens]


def check_wordlm_model(path: Path) -> dict:
    """A loadable word LM: ``<pad>``, ``<unk>``, ``<eos>`` first in its vocabulary, finite
    figures, and its validation perplexity the exponential of its validation loss."""
    from textlab.wordlm.saving import load_wordlm

    card = check_model_dir(path, "vocab.tsv")
    assert card["kind"] == "wordlm", card["kind"]
    _model, vocab, _card = load_wordlm(path, "cpu")
    assert vocab.words[:3] == ["<pad>", "<unk>", "<eos>"] and len(vocab) == card["config"]["vocab_size"]
    metrics = card["metrics"]
    assert math.isfinite(metrics["val_loss"]) and math.isfinite(metrics["val_unigram_perplexity"])
    assert math.isclose(metrics["val_perplexity"], math.exp(metrics["val_loss"]), rel_tol=1e-6)
    return card


def check_eval_lm(result, what, data: bytes, model: Path, name: str | None = None) -> None:
    """``eval-lm --json`` on a file holding ``data``: every word (one a token, as the model's
    tokenizer reads each line) and every end of a document that has a word is predicted; a file
    without words is refused; the unigram baseline is the model's training counts plus 0.5."""
    from textlab.text import TokenizerOptions, Vocab, tokenize_line

    card = json.loads((Path(model) / "config.json").read_text())
    options = TokenizerOptions(lang=card["config"]["lang"], lowercase=True, stopwords=False)
    documents = [tokens for tokens in (tokenize_line(line, options) for line in text_lines(data)) if tokens]
    if not documents:
        refused(result, what, "holds no words")
        return
    succeeded(result, what)
    figures = json.loads(result.stdout)
    vocab = Vocab.load(Path(model) / "vocab.tsv")
    words = sum(len(tokens) for tokens in documents)
    unknown = sum(w not in vocab.index for tokens in documents for w in tokens)
    assert (figures["documents"], figures["words"], figures["tokens"]) == (len(documents), words, words + len(documents))
    assert math.isclose(figures["unk_rate"], unknown / words, rel_tol=1e-9)
    assert math.isfinite(figures["loss"]) and figures["loss"] >= 0
    assert math.isclose(figures["perplexity"], math.exp(figures["loss"]), rel_tol=1e-6)
    counts = [c + 0.5 for c in vocab.counts.tolist()]
    total = sum(counts) - counts[0]
    targets = [vocab.index.get(w, 1) for tokens in documents for w in tokens + ["<eos>"]]
    unigram = math.exp(-sum(math.log(counts[t] / total) for t in targets) / len(targets))
    assert math.isclose(figures["unigram_perplexity"], unigram, rel_tol=1e-6), (figures, unigram)
    assert figures["model"] == (name or str(model))
