import numpy as np
import pytest

from textlab.charlm.data import CharCodec, build_alphabet, eval_streams, load_char_data, make_streams, unigram_entropy
from textlab.errors import DataError


def test_alphabet_by_frequency_then_codepoint():
    assert build_alphabet("bbaacz") == ["a", "b", "c", "z"]
    assert build_alphabet("zzy红红红") == ["红", "z", "y"]


def test_codec_round_trip_and_unknown_chars():
    text = "宝玉 said: hello\n"
    codec = CharCodec(build_alphabet(text))
    ids = codec.encode(text)
    assert codec.decode(ids) == text
    assert codec.unknown("hello 黛玉!") == ["黛", "!"]
    with pytest.raises(DataError, match="outside the model's alphabet"):
        codec.encode("xyz")


def test_split_is_last_fraction(corpus_file, repetitive_text):
    data = load_char_data(str(corpus_file), valid_fraction=0.1)
    codec = CharCodec(data.alphabet)
    assert len(data.train) + len(data.valid) == len(repetitive_text)
    assert codec.decode(data.valid) == repetitive_text[len(data.train):]
    assert len(data.valid) == len(repetitive_text) - int(len(repetitive_text) * 0.9)


def test_streams_are_contiguous_rows():
    ids = np.arange(103)
    streams = make_streams(ids, 4)
    assert streams.shape == (4, 25)
    assert streams[1, 0].item() == 25 and streams[1, -1].item() == 49


def test_eval_streams_cover_every_prediction_once():
    ids = np.arange(1, 40)
    inputs, targets = eval_streams(ids, 4)
    mask = targets != -100
    assert int(mask.sum()) == len(ids) - 1
    assert sorted(targets[mask].tolist()) == list(range(2, 40))
    assert bool(((targets[mask] - inputs[mask]) == 1).all())  # each target follows its input


def test_unigram_entropy_of_uniform_text():
    assert unigram_entropy(np.array([0, 1, 2, 3] * 5)) == pytest.approx(np.log(4))


def test_shipped_chinese_corpus_has_cjk_alphabet():
    data = load_char_data("hongloumeng", valid_fraction=0.05)
    assert "宝" in data.alphabet and "玉" in data.alphabet
    assert len(data.alphabet) > 3000


def test_a_lone_surrogate_is_a_code_point_not_a_crash():
    """A command-line argument with bytes that are not UTF-8 reaches Python as lone surrogates
    (e.g. '\\udcff'); the alphabet check must count it as a character outside the alphabet."""
    from textlab.charlm.data import text_to_codepoints

    assert text_to_codepoints("p\udcff\ud800").tolist() == [ord("p"), 0xDCFF, 0xD800]
