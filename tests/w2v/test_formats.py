"""word2vec text/binary formats against gensim, both directions, and damaged files."""

from __future__ import annotations

import numpy as np
import pytest
from gensim.models import KeyedVectors as GensimKeyedVectors

from textlab.errors import DataError
from textlab.w2v.formats import load_word2vec_format, save_word2vec_format
from textlab.w2v.keyed_vectors import KeyedVectors


def _vectors(count=40, dim=7, seed=0):
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(count - 3)] + ["ünï", "宝玉", "l'amour"]
    return words, rng.normal(size=(count, dim)).astype(np.float32)


def _gensim(words, vectors):
    kv = GensimKeyedVectors(vectors.shape[1])
    kv.add_vectors(words, vectors)
    return kv


@pytest.mark.parametrize("binary", [False, True])
def test_export_is_byte_identical_to_gensim_and_loads_there(tmp_path, binary):
    words, vectors = _vectors()
    ours, theirs = tmp_path / "ours.w2v", tmp_path / "theirs.w2v"
    save_word2vec_format(ours, words, vectors, binary=binary)
    _gensim(words, vectors).save_word2vec_format(str(theirs), binary=binary)
    assert ours.read_bytes() == theirs.read_bytes()
    loaded = GensimKeyedVectors.load_word2vec_format(str(ours), binary=binary)
    assert loaded.index_to_key == words
    ours_kv = KeyedVectors(words, vectors)
    for word in ("w0", "宝玉"):
        assert [w for w, _ in loaded.most_similar(word, topn=5)] == [w for w, _ in ours_kv.most_similar(word, k=5)]


@pytest.mark.parametrize("binary", [False, True])
def test_import_gensim_written_file(tmp_path, binary):
    words, vectors = _vectors(seed=1)
    path = tmp_path / "g.w2v"
    _gensim(words, vectors).save_word2vec_format(str(path), binary=binary)
    got_words, got = load_word2vec_format(path)  # format detected
    assert got_words == words
    np.testing.assert_allclose(got, vectors, rtol=1e-6)


def test_binary_with_c_tool_newlines(tmp_path):
    words, vectors = _vectors(count=5, dim=3)
    data = b"5 3\n" + b"".join(w.encode() + b" " + v.tobytes() + b"\n" for w, v in zip(words, vectors))
    (tmp_path / "c.bin").write_bytes(data)
    got_words, got = load_word2vec_format(tmp_path / "c.bin", binary=True)
    assert got_words == words
    np.testing.assert_array_equal(got, vectors)


def _damaged(tmp_path, binary):
    words, vectors = _vectors(count=10, dim=4)
    path = tmp_path / "v.w2v"
    save_word2vec_format(path, words, vectors, binary=binary)
    return path


def test_truncated_binary_is_a_clear_error(tmp_path):
    path = _damaged(tmp_path, True)
    path.write_bytes(path.read_bytes()[:-9])
    with pytest.raises(DataError, match="truncated|ends"):
        load_word2vec_format(path, binary=True)


@pytest.mark.parametrize("binary", [False, True])
def test_lying_header_is_a_clear_error(tmp_path, binary):
    path = _damaged(tmp_path, binary)
    body = path.read_bytes().split(b"\n", 1)[1]
    path.write_bytes(b"12 4\n" + body)
    with pytest.raises(DataError, match="header|truncated|ends"):
        load_word2vec_format(path, binary=binary)
    path.write_bytes(b"8 4\n" + body)
    with pytest.raises(DataError, match="header"):
        load_word2vec_format(path, binary=binary)
    path.write_bytes(b"999999999 4\n" + body)
    with pytest.raises(DataError):
        load_word2vec_format(path, binary=binary)


def test_wrong_dimension_and_garbage(tmp_path):
    path = _damaged(tmp_path, False)
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], lines[1] + " 0.5"] + lines[2:]) + "\n")
    with pytest.raises(DataError, match="line 2: 5 values"):
        load_word2vec_format(path)
    path.write_text("hello world\nfoo\n")
    with pytest.raises(DataError, match="not a word2vec file"):
        load_word2vec_format(path)


@pytest.mark.parametrize("name, binary", [("v.txt.gz", False), ("v.bin.gz", True), ("v.bin.bz2", True)])
def test_compressed_files_gensim_writes_are_read(tmp_path, name, binary):
    words, vectors = _vectors()
    _gensim(words, vectors).save_word2vec_format(str(tmp_path / name), binary=binary)
    read_words, read_vectors = load_word2vec_format(tmp_path / name)
    assert read_words == words and np.array_equal(read_vectors, vectors)


def test_a_header_of_no_vectors_is_refused(tmp_path):
    (tmp_path / "zero.txt").write_text("0 3\n")
    with pytest.raises(DataError, match="announces no vectors"):
        load_word2vec_format(tmp_path / "zero.txt")


@pytest.mark.parametrize("compressed", [False, True])
def test_a_header_announcing_more_than_the_file_holds_allocates_nothing_of_it(tmp_path, compressed):
    """40 million rows of 300 would be 48 GB: refused from the file's size, or (compressed, where
    the size says nothing) after the rows that are there, never by running out of memory."""
    import gzip
    import tracemalloc

    data = ("40000000 300\na " + " ".join(["0.5"] * 300) + "\n").encode()
    path = tmp_path / ("lie.txt.gz" if compressed else "lie.txt")
    path.write_bytes(gzip.compress(data) if compressed else data)
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="more than the file|holds 1 vectors but its header announces 40,000,000"):
            load_word2vec_format(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200 << 20
