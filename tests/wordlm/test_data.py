"""Corpus to word ids: documents end with <eos>, the vocabulary keeps <pad> 0, <unk> 1, <eos> 2
and the most frequent training words, the validation documents are the last ones (or another
file), and an aclImdb dataset gives its train reviews only."""

from __future__ import annotations

import numpy as np
import pytest

from textlab.errors import DataError
from textlab.text import EOS, PAD, UNK, Vocab
from textlab.wordlm.data import EOS_ID, UNK_ID, load_word_data, with_eos


def test_documents_end_with_eos_and_the_split_is_by_document(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("The cat sat.\n\nA dog, a CAT!\nthe end\nzebra zebra\n", encoding="utf-8")
    data = load_word_data(str(path), lang="en", vocab_size=3, valid_fraction=0.25)
    vocab = data.vocab
    assert vocab.words[:3] == [PAD, UNK, EOS] and (vocab.pad_id, vocab.unk_id, vocab.eos_id) == (0, 1, 2)
    # training documents: "the cat sat" / "a dog a cat" / "the end" (lowercased, punctuation dropped)
    assert vocab.words[3:] == ["a", "cat", "the"]  # the 3 most frequent training words, ties alphabetical
    assert vocab.counts[UNK_ID] == 3 and vocab.counts[EOS_ID] == 3  # dog, sat, end; three documents
    ids = dict(zip(vocab.words, range(len(vocab))))
    assert data.train.tolist() == [2, ids["the"], ids["cat"], 1, 2, ids["a"], 1, ids["a"], ids["cat"], 2,
                                   ids["the"], 1, 2]
    assert data.valid.tolist() == [2, 1, 1, 2]  # the last document, its word outside the vocabulary
    assert data.train.dtype == np.int32
    info = data.summary()
    assert (info["train_documents"], info["valid_documents"], info["lang"]) == (3, 1, "en")
    assert info["train_unk_rate"] == round(3 / 9, 5) and info["valid_unk_rate"] == 1.0
    assert Vocab.from_tsv(vocab.to_tsv()).num_specials == 3


def test_valid_data_trains_on_every_document_and_auto_reads_chinese(tmp_path):
    corpus, held_out = tmp_path / "zh.txt", tmp_path / "valid.txt"
    corpus.write_text("这家酒店服务很好\n房间很干净\n服务一般\n", encoding="utf-8")
    held_out.write_text("酒店很好\n", encoding="utf-8")
    data = load_word_data(str(corpus), lang="auto", valid_data=str(held_out))
    assert data.lang == "zh" and data.train_documents == 3 and data.valid_documents == 1
    assert data.valid[0] == EOS_ID and data.valid[-1] == EOS_ID and len(data.valid) > 3


def test_with_eos_marks_every_document_end():
    assert with_eos(np.array([5, 6, 7, 8, 9]), np.array([2, 3])).tolist() == [2, 5, 6, 2, 7, 8, 9, 2]


@pytest.mark.parametrize("text, message", [
    ("", "holds no words"),
    ("!!! ???\n...\n", "holds no words"),
    ("one single document\n", "holds a single document"),
])
def test_corpora_with_nothing_to_learn_are_refused(tmp_path, text, message):
    path = tmp_path / "c.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        load_word_data(str(path), lang="en")


def test_an_aclimdb_dataset_gives_its_train_reviews_never_the_test_split(tmp_path):
    root = tmp_path / "aclImdb"
    for split, folder, text in [("train", "pos", "a good film"), ("train", "neg", "a bad film"),
                                ("train", "unsup", "some film"), ("test", "pos", "secret words")]:
        (root / split / folder).mkdir(parents=True)
        (root / split / folder / "0_7.txt").write_text(text + " <br /><br />", encoding="utf-8")
    (root / "test" / "neg").mkdir()
    data = load_word_data(str(tmp_path), lang="en", valid_fraction=0.3)
    assert data.train_documents + data.valid_documents == 3
    assert "secret" not in data.vocab.index and "words" not in data.vocab.index
    # labelled reviews first, then the unlabelled: the last one validates
    assert data.vocab.decode(data.valid.tolist()) == [EOS, UNK, "film", EOS]  # "some": only in validation
