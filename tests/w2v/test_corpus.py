"""Corpus → int32 ids with sentence boundaries; vocabulary pruning; default names."""

from __future__ import annotations

import numpy as np

from textlab.text import TokenizerOptions
from textlab.w2v import corpus as corpus_module
from textlab.w2v.corpus import encode_corpus
from textlab.w2v.saving import default_name


def test_encode_prunes_and_keeps_sentences(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("a b c rare\n\nonce\nb c a a\n")
    corpus = encode_corpus(path, TokenizerOptions(lang="none"), min_count=2)
    assert corpus.vocab.words == ["a", "c", "b"]  # by descending count (ties as gensim); no specials
    assert corpus.ids.dtype == np.int32
    assert corpus.vocab.decode(corpus.ids.tolist()) == ["a", "b", "c", "b", "c", "a", "a"]
    assert corpus.vocab.counts.tolist() == [3, 2, 2]
    assert corpus.starts.tolist() == [0, 3]
    assert corpus.sentence_ids(0, corpus.num_words).tolist() == [0, 0, 0, 1, 1, 1, 1]
    assert corpus.raw_tokens == 9
    limited = encode_corpus(path, TokenizerOptions(lang="none"), min_count=1, max_vocab=2)
    assert limited.vocab.words == ["a", "c"]


def test_one_huge_line_is_cut_into_sentences(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_module, "MAX_SENTENCE", 100)
    path = tmp_path / "text8-like.txt"
    words = " ".join(f"w{i % 50}" for i in range(1050))
    path.write_text(words)  # no newline at all
    corpus = encode_corpus(path, TokenizerOptions(lang="none"), min_count=1)
    assert corpus.num_words == 1050
    assert corpus.starts.tolist() == list(range(0, 1050, 100))


def test_default_names():
    assert default_name("text8", "skipgram") == "w2v-text8-skipgram"
    assert default_name("../data/hongloumeng.txt.gz", "cbow") == "w2v-hongloumeng-cbow"


def test_vocabulary_order_is_gensims(tmp_path):
    from gensim.models import Word2Vec as GensimWord2Vec
    from gensim.models.word2vec import LineSentence

    path = tmp_path / "ties.txt"
    path.write_text("z y z y x\nb a c a b c d e e q\n")
    corpus = encode_corpus(path, TokenizerOptions(lang="none"), min_count=1)
    theirs = GensimWord2Vec(min_count=1, vector_size=4)
    theirs.build_vocab(LineSentence(str(path)))
    assert corpus.vocab.words == theirs.wv.index_to_key


def test_pieces_do_not_change_the_result(tmp_path, monkeypatch):
    path = tmp_path / "c.txt"
    path.write_text("a b c rare\n\nonce\nb c a a\nc\nrare2 a b\n")
    whole = encode_corpus(path, TokenizerOptions(lang="none"), min_count=2)
    monkeypatch.setattr(corpus_module, "PIECE_TOKENS", 3)
    pieces = encode_corpus(path, TokenizerOptions(lang="none"), min_count=2)
    assert pieces.ids.tolist() == whole.ids.tolist()
    assert pieces.starts.tolist() == whole.starts.tolist() == [0, 3, 7, 8]
