"""The four lines textlab is advertised with work right after install, offline, with no model
of the user's: the shipped models answer (and say so on stderr)."""

from __future__ import annotations

import pytest

from textlab.store.shipped import shipped_model


def _shipped(kind: str, name: str):
    if shipped_model(kind, name) is None:
        pytest.fail(f"the package ships no {kind} model {name!r} (scripts/build_shipped_models.py builds it)")


def test_generate_from_the_shipped_char_model(cli):
    _shipped("charlm", "shakespeare")
    result = cli("generate", "--seed", "p", "--len", "1000")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.endswith("\n")
    text = result.stdout[:-1]  # the one newline the command ends with (the sample may end in its own)
    assert len(text) == 1001 and text.startswith("p")
    assert "shipped:shakespeare" in result.stderr
    words = text.split()
    assert len(words) > 100 and sum(w.strip(".,;:!?'").lower() in {"the", "and", "i", "to", "of", "you", "my"}
                                    for w in words) > 20  # Shakespeare-like English, not noise


def test_analogy_from_the_shipped_english_vectors(cli):
    _shipped("word2vec", "en")
    result = cli("analogy", "king", "man", "woman")
    assert result.exit_code == 0, result.stderr
    top3 = [line.split()[0] for line in result.stdout.splitlines()[:3]]
    assert "queen" in top3, result.stdout
    assert "shipped:en" in result.stderr


def test_neighbours_from_the_shipped_chinese_vectors(cli):
    _shipped("word2vec", "zh")
    result = cli("neighbors", "宝玉", "-k", "10")
    assert result.exit_code == 0, result.stderr
    assert {"黛玉", "宝钗", "袭人", "林黛玉", "凤姐", "贾母"} & {line.split()[0] for line in result.stdout.splitlines()}


@pytest.mark.parametrize("text, label", [("A wonderful, moving film.", "positive"), ("这家酒店服务很好", "positive"),
                                         ("Dull, predictable and far too long.", "negative")])
def test_sentiment_from_the_shipped_models(cli, text, label):
    result = cli("sentiment", input=text + "\n")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split("\t")[0] == label
