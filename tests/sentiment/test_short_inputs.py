"""Short inputs: the first/last-sentence views of the validation reviews (scored by the saved
model, reported in its card), the sentence crops training may add (the same for the same seed
and epoch, 1-3 consecutive sentences labelled by their review), and cards written before
``pooling`` existed, which still load and score as before."""

from __future__ import annotations

import json
import shutil

import numpy as np

from textlab.integrity import refresh_checksums
from textlab.sentiment.data import Encoder
from textlab.sentiment.predict import Predictor
from textlab.sentiment.saved import load_sentiment
from textlab.sentiment.short_inputs import sentence_crops, sentence_views, train_sentences
from textlab.text import PAD, UNK, Vocab

WORDS = ["good", "bad", "film", "the", "was", "very", "plot", "end", "i", "it", "liked", "hated"]


def encoder() -> Encoder:
    vocab = Vocab([PAD, UNK, *WORDS], [0, 0, *range(len(WORDS), 0, -1)])
    return Encoder(vocab=vocab, max_len=50, head_len=10, bag_buckets=0, bag_max_len=100)


def test_views_take_each_reviews_first_and_last_long_sentence():
    texts = ["Wow. I liked the film. So so. The end was very bad! Meh.", "The plot was very good"]
    views = sentence_views(texts, [1, 0], "en", encoder())
    decode = encoder().vocab.decode
    assert [decode(s) for s in views["first"].sequences] == [["i", "liked", "the", "film"],
                                                             ["the", "plot", "was", "very", "good"]]
    assert decode(views["last"].sequences[0]) == ["the", "end", "was", "very", "bad"]
    assert views["first"].labels == [1, 0] and views["last"].labels == [1, 0]


def test_crops_are_consecutive_sentences_labelled_by_their_review_and_repeat_by_seed_and_epoch():
    texts = ["I liked it. The film was good. The plot was good. The end was good.",
             "I hated it. The film was bad. The plot was bad."]
    sentences = train_sentences(texts, "en", encoder())
    crops = sentence_crops(sentences, [1, 0], 5.0, seed=1, epoch=0, encoder=encoder())
    assert len(crops) == 10 and crops.ngram_branch == [None] * 10
    assert [len(starts) - 1 for _, starts in sentences] == [4, 3]
    for ids, label in zip(crops.sequences, crops.labels):
        review, starts = sentences[1 - label]
        spans = [review[starts[a]: starts[b]] for a in range(len(starts)) for b in range(a + 1, min(a + 4, len(starts)))]
        assert any(np.array_equal(ids, span) for span in spans)
    again = sentence_crops(sentences, [1, 0], 5.0, seed=1, epoch=0, encoder=encoder())
    assert all(np.array_equal(a, b) for a, b in zip(crops.sequences, again.sequences))
    other = sentence_crops(sentences, [1, 0], 5.0, seed=1, epoch=1, encoder=encoder())
    assert any(not np.array_equal(a, b) for a, b in zip(crops.sequences, other.sequences))


def test_the_card_reports_the_short_views(en_model):
    metrics = json.loads((en_model / "config.json").read_text())["metrics"]
    assert 0.5 <= metrics["valid_accuracy_first_sentence"] <= 1.0
    assert 0.5 <= metrics["valid_accuracy_last_sentence"] <= 1.0


def test_a_card_without_pooling_loads_and_scores_as_before(en_model, tmp_path):
    old = shutil.copytree(en_model, tmp_path / "old")
    card = json.loads((old / "config.json").read_text())
    assert card["config"].pop("pooling") == "max+mean"
    (old / "config.json").write_text(json.dumps(card), encoding="utf-8")
    refresh_checksums(old)
    loaded = load_sentiment(old)
    assert loaded.config.pooling == "max+mean"
    texts = ["a wonderful moving film", "awful acting and a dull story", "it was fine i guess"]
    def scores(model):
        predictor = Predictor(model)
        return predictor.score([predictor.encode(text) for text in texts])

    assert scores(loaded) == scores(load_sentiment(en_model))
