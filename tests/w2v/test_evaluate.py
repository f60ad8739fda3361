"""Evaluation figures equal gensim's on the same vectors; query semantics shaped like gensim's."""

from __future__ import annotations

import gzip
import numpy as np
import pytest
from gensim.models import KeyedVectors as GensimKeyedVectors

from textlab.errors import DataError, TextlabError
from textlab.store.cards import ModelCard
from textlab.w2v.evaluate import (
    default_analogies, default_similarities, evaluate_all, evaluate_analogies, evaluate_similarity,
)
from textlab.w2v.keyed_vectors import KeyedVectors, folds_case

QUESTIONS = default_analogies()[0]  # gensim's questions-words.txt


def planted(words: list[str], pairs, dim: int, seed: int, strength: float):
    """Random vectors over ``words`` where each pair's second word is its first plus one shared
    offset (a relation analogies can find), and gensim's KeyedVectors holding the same."""
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(len(words), dim)).astype(np.float32)
    index = {w: i for i, w in enumerate(words)}
    offset = rng.normal(size=dim).astype(np.float32)
    for first, second in pairs:
        vectors[index[second]] = vectors[index[first]] + strength * offset
    theirs = GensimKeyedVectors(dim)
    theirs.add_vectors(words, vectors)
    return vectors, theirs


@pytest.fixture(scope="module")
def pair():
    """Random vectors over the words of gensim's test sets, with structure for a few analogies."""
    words: list[str] = []
    seen = set()
    for line in open(QUESTIONS, encoding="utf-8"):
        if line.startswith(":"):
            continue
        for word in line.split():
            if word.lower() not in seen:
                seen.add(word.lower())
                words.append(word.lower())
    vectors, theirs = planted(words, [("king", "queen"), ("man", "woman"), ("boy", "girl"), ("he", "she"),
                                      ("brother", "sister")], dim=20, seed=0, strength=3)
    ours = KeyedVectors(words, vectors)
    return ours, theirs


def test_analogies_match_gensim(pair):
    ours, theirs = pair
    for restrict in (30000, 200):
        mine = evaluate_analogies(ours, QUESTIONS, restrict_vocab=restrict)
        score, sections = theirs.evaluate_word_analogies(QUESTIONS, restrict_vocab=restrict)
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


@pytest.mark.parametrize("score", ["nan", "inf", "-inf", "abc"])
def test_a_score_that_is_no_finite_number_is_refused_by_line(pair, tmp_path, score):
    path = tmp_path / "pairs.tsv"
    path.write_text(f"king\tqueen\t8.5\nman\twoman\t{score}\nboy\tgirl\t7\n")
    with pytest.raises(DataError, match=f"line 2: score '{score}' is not a finite number"):
        evaluate_similarity(pair[0], path)


def test_constant_scores_have_no_correlation_and_no_warning(pair, tmp_path, recwarn):
    path = tmp_path / "pairs.tsv"
    path.write_text("king\tqueen\t5\nman\twoman\t5\nboy\tgirl\t5\n")
    result = evaluate_similarity(pair[0], path)
    assert result["spearman"] is None and result["pairs"] == 3 and not recwarn.list


def test_queries(pair):
    ours, theirs = pair
    assert ours.analogy("king", "man", "woman", k=1)[0][0] == "queen"
    mine = ours.most_similar("paris", k=5)
    assert [w for w, _ in mine] == [w for w, _ in theirs.most_similar("paris", topn=5)]
    mul = ours.analogy("king", "man", "woman", k=3, method="mul")
    assert [w for w, _ in mul] == [w for w, _ in theirs.most_similar_cosmul(positive=["king", "woman"], negative=["man"], topn=3)]
    with pytest.raises(TextlabError, match="'zzzz'"):
        ours.analogy("king", "zzzz", "woman")


def test_gensim_shaped_queries(pair):
    ours, theirs = pair
    np.testing.assert_array_equal(ours["king"], theirs["king"])
    assert ours[["king", "queen"]].shape == (2, 20)
    assert "king" in ours and "zzzz" not in ours and 3 not in ours
    assert ours.index_to_key[ours.key_to_index["paris"]] == "paris"
    for mine, gensims in [
        (ours.most_similar("king", topn=3), theirs.most_similar("king", topn=3)),
        (ours.most_similar(positive=["king", "woman"], negative=["man"], topn=4),
         theirs.most_similar(positive=["king", "woman"], negative=["man"], topn=4)),
        (ours.most_similar(negative=["paris"], topn=2), theirs.most_similar(negative=["paris"], topn=2)),
        (ours.most_similar_cosmul(positive=["king", "woman"], negative=["man"], topn=3),
         theirs.most_similar_cosmul(positive=["king", "woman"], negative=["man"], topn=3)),
    ]:
        assert [w for w, _ in mine] == [w for w, _ in gensims]
        np.testing.assert_allclose([s for _, s in mine], [s for _, s in gensims], atol=1e-5)
    assert ours.similarity("king", "queen") == pytest.approx(float(theirs.similarity("king", "queen")), abs=1e-6)
    vector_query = ours.most_similar(positive=[ours["king"]], topn=2)  # a vector is not excluded from the answers
    assert vector_query[0][0] == "king" and vector_query[0][1] == pytest.approx(1.0, abs=1e-5)
    # the older call shapes keep working: most_similar(word, k) and k=
    assert ours.most_similar("paris", 5) == ours.most_similar("paris", k=5) == ours.most_similar("paris", topn=5)


def test_unknown_word_is_a_key_error_naming_the_model(pair):
    ours, _ = pair
    named = KeyedVectors(ours.words, ours.vectors, name="shipped:en")
    with pytest.raises(KeyError) as caught:
        named["Zzzz"]
    assert isinstance(caught.value, TextlabError)
    assert str(caught.value) == f"word 'Zzzz' is not in the vocabulary of shipped:en ({len(ours):,} words)"
    with pytest.raises(TextlabError, match="topn"):
        ours.most_similar("king", topn=0)


def test_case_folding_follows_the_training(pair):
    ours, _ = pair
    folded = KeyedVectors(ours.words, ours.vectors, lowercase=True)
    assert "King" in folded and "King" not in ours
    assert folded.most_similar("King", topn=3) == folded.most_similar("king", topn=3)
    assert folded.analogy("KING", "Man", "woman", k=1)[0][0] == "queen"

    def card(config, extra=None):
        return ModelCard(kind="word2vec", config=config, extra=extra or {})

    assert folds_case(card({"lang": "en"})) and folds_case(card({"lang": "auto"})) and folds_case(card({"lang": "zh"}))
    assert not folds_case(card({"lang": "none"}))  # split on white space only: case kept
    assert not folds_case(card({"lang": "none"}, {"imported": True}))
    assert not folds_case(card({"lang": "en", "lowercase": False}))  # the card's word wins
    assert folds_case(card({"lang": "none"}, {"tokenizer": {"lowercase": True}}))


@pytest.fixture(scope="module")
def chinese_pair():
    """Random vectors over the words of CA8's semantic questions, one relation planted."""
    path = default_analogies("zh")[1]
    assert path.name == "ca8_semantic.txt.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        words = list(dict.fromkeys(w for line in handle if not line.startswith(":") for w in line.split()))
    vectors, theirs = planted(words, [("广东", "粤剧"), ("浙江", "越剧"), ("北京", "京剧"), ("上海", "沪剧"), ("四川", "川剧")],
                              dim=16, seed=1, strength=4)
    return KeyedVectors(words, vectors, name="zh-test"), theirs, path


def test_chinese_vectors_are_measured_on_ca8_like_gensim(chinese_pair):
    ours, theirs, path = chinese_pair
    mine = evaluate_analogies(ours, path)
    score, sections = theirs.evaluate_word_analogies(str(path))
    assert mine["seen"] == mine["total"] == 7636  # every question of CA8-semantic is covered
    assert mine["correct"] == len(sections[-1]["correct"]) > 0 and mine["accuracy"] == pytest.approx(score)
    figures = evaluate_all(ours)  # the defaults follow the vocabulary's language: CA8, no English sets
    assert set(figures["analogies"]) == {"ca8_morphological", "ca8_semantic"} and figures["similarity"] == {}
    morphological = figures["analogies"]["ca8_morphological"]
    assert morphological["total"] == 10177 and 0 < morphological["seen"] < 10177  # a few shared words
    assert figures["analogy_seen"] == 7636 + morphological["seen"] and figures["skipped"] == []


def test_a_set_that_does_not_apply_is_skipped_not_zero(chinese_pair, pair):
    chinese, _, _ = chinese_pair
    with pytest.raises(DataError, match=r"no evaluation set applies to zh-test \(questions-words: 0 of 19,544 "
                                        r"questions covered by this vocabulary; skipped; wordsim353: 0 of"):
        evaluate_all(chinese, lang="en")
    english, _ = pair
    figures = evaluate_all(english, analogies=[QUESTIONS, default_analogies("zh")[1]], similarities=[])
    assert figures["skipped"] == ["ca8_semantic: 0 of 7,636 questions covered by this vocabulary; skipped"]
    alone = evaluate_analogies(english, QUESTIONS)
    assert (figures["analogy_seen"], figures["analogy_correct"]) == (alone["seen"], alone["correct"])


def test_a_file_named_twice_is_one_set(pair, tmp_path, monkeypatch):
    (tmp_path / "q.txt").write_text(": family\nman king woman queen\nboy brother girl sister\n")
    monkeypatch.chdir(tmp_path)
    once = evaluate_all(pair[0], [tmp_path / "q.txt"], [])
    twice = evaluate_all(pair[0], [tmp_path / "q.txt", "q.txt"], [])
    assert twice["analogy_seen"] == once["analogy_seen"] == 2 and list(twice["analogies"]) == ["q"]
    assert twice["analogy_sections"] == once["analogy_sections"] and len(once["analogy_sections"]) == 1
