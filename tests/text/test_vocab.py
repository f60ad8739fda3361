from __future__ import annotations

from collections import Counter

import pytest

from textlab.errors import DataError
from textlab.text import PAD, UNK, Vocab


def test_top_n_with_unk_and_deterministic_ties():
    counter = Counter({"b": 3, "a": 3, "c": 5, "d": 1, "e": 2})
    vocab = Vocab.from_counter(counter, size=3, min_count=2)
    assert vocab.words == [UNK, "c", "a", "b"]  # ties broken alphabetically
    assert vocab.count(UNK) == 3  # d (1) and e (2) fell outside
    assert vocab["zzz"] == vocab.unk_id == 0
    assert abs(vocab.unk_rate() - 3 / 14) < 1e-9


def test_min_count_prunes():
    vocab = Vocab.from_counter(Counter({"x": 5, "y": 4, "z": 1}), min_count=4)
    assert "z" not in vocab and "x" in vocab and "y" in vocab


def test_encode_decode_round_trip_and_pad():
    vocab = Vocab.build([["a", "b", "a"], ["c"]], specials=(PAD, UNK))
    assert vocab.pad_id == 0 and vocab.unk_id == 1
    ids = vocab.encode(["a", "c", "nope"])
    assert ids[-1] == vocab.unk_id
    assert vocab.decode(ids[:2]) == ["a", "c"]
    assert vocab.encode_array(["a", "nope"], drop_unknown=True).tolist() == [vocab["a"]]


def test_save_load_tsv(tmp_path):
    vocab = Vocab.from_counter(Counter({"héllo": 2, "世界": 3, "x": 1}))
    vocab.save(tmp_path / "v.tsv")
    text = (tmp_path / "v.tsv").read_text(encoding="utf-8")
    assert text.splitlines()[1] == "世界\t3"
    loaded = Vocab.load(tmp_path / "v.tsv")
    assert loaded.words == vocab.words and loaded.counts.tolist() == vocab.counts.tolist()


def test_malformed_tsv_is_a_clear_error(tmp_path):
    (tmp_path / "bad.tsv").write_text("word\tnotanumber\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 1"):
        Vocab.load(tmp_path / "bad.tsv")


def test_cli_vocab_build(cli, tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat\nthe dog sat\n", encoding="utf-8")
    out = tmp_path / "v.tsv"
    result = cli("vocab", "build", str(corpus), "--size", "2", "--min-count", "2", "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines() == ["<unk>\t4", "the\t3", "sat\t2"]
    again = cli("vocab", "build", str(corpus), "-o", str(out))
    assert again.exit_code != 0 and "--force" in again.stderr
