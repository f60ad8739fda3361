"""Evaluation figures equal gensim's on the same vectors; query semantics."""

from __future__ import annotations

import numpy as np
import pytest
from gensim.models import KeyedVectors as GensimKeyedVectors

from textlab.errors import TextlabError
from textlab.w2v.evaluate import default_analogies, default_similarities, evaluate_analogies, evaluate_similarity
from textlab.w2v.keyed_vectors import KeyedVectors


@pytest.fixture(scope="module")
def pair():
    """Random vectors over the words of gensim's test sets, with structure for a few analogies."""
    words: list[str] = []
    seen = set()
    for line in open(default_analogies(), encoding="utf-8"):
        if line.startswith(":"):
            continue
        for word in line.split():
            if word.lower() not in seen:
                seen.add(word.lower())
                words.append(word.lower())
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(words), 20)).astype(np.float32)
    index = {w: i for i, w in enumerate(words)}
    gender = rng.normal(size=20).astype(np.float32)
    for male, female in [("king", "queen"), ("man", "woman"), ("boy", "girl"), ("he", "she"), ("brother", "sister")]:
        vectors[index[female]] = vectors[index[male]] + 3 * gender
    ours = KeyedVectors(words, vectors)
    theirs = GensimKeyedVectors(20)
    theirs.add_vectors(words, vectors)
    return ours, theirs


def test_analogies_match_gensim(pair):
    ours, theirs = pair
    for restrict in (30000, 200):
        mine = evaluate_analogies(ours, default_analogies(), restrict_vocab=restrict)
        score, sections = theirs.evaluate_word_analogies(default_analogies(), restrict_vocab=restrict)
        total = sections[-1]
        assert mine["seen"] == len(total["correct"]) + len(total["incorrect"])
        assert mine["correct"] == len(total["correct"])
        assert mine["accuracy"] == pytest.approx(score)
    assert mine["correct"] > 0


def test_similarity_matches_gensim(pair):
    ours, theirs = pair
    for path in default_similarities():
        mine = evaluate_similarity(ours, path)
        _, (rho, _), oov = theirs.evaluate_word_pairs(str(path))
        assert mine["spearman"] == pytest.approx(rho, abs=1e-6)
        assert 100 * mine["oov_ratio"] == pytest.approx(oov)


def test_queries(pair):
    ours, theirs = pair
    assert ours.analogy("king", "man", "woman", k=1)[0][0] == "queen"
    mine = ours.most_similar("paris", k=5)
    assert [w for w, _ in mine] == [w for w, _ in theirs.most_similar("paris", topn=5)]
    mul = ours.analogy("king", "man", "woman", k=3, method="mul")
    assert [w for w, _ in mul] == [w for w, _ in theirs.most_similar_cosmul(positive=["king", "woman"], negative=["man"], topn=3)]
    with pytest.raises(TextlabError, match="'zzzz'"):
        ours.analogy("king", "zzzz", "woman")
