from __future__ import annotations

import gzip
import io
import tarfile
import zipfile

import pytest

from textlab.data import iter_corpus_chunks, iter_corpus_lines, iter_corpus_pieces, resolve_corpus
from textlab.data.corpus import iter_pieces
from textlab.errors import DataError


def test_plain_file_lines_with_crlf_bom_and_bad_bytes(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"\xef\xbb\xbfone\r\ntwo \xff\xfe three\r\n")
    lines = list(iter_corpus_lines(path))
    assert lines[0] == "one"
    assert lines[1].startswith("two ") and lines[1].endswith(" three") and "\ufffd" in lines[1]


def test_overlong_line_comes_in_bounded_pieces(tmp_path):
    words = " ".join(f"w{i}" for i in range(20000))
    path = tmp_path / "one_line.txt"
    path.write_text(words, encoding="utf-8")
    pieces = list(iter_corpus_pieces(path, max_chars=1000))
    assert all(len(p) <= 1000 for p, _ in pieces)
    assert [ends for _, ends in pieces].count(True) == 1
    assert "".join(p for p, _ in pieces).split() == words.split()  # no word was cut


def test_iter_pieces_without_spaces_hard_cuts():
    text = "字" * 2500
    pieces = list(iter_pieces(io.StringIO(text), max_chars=1000))
    assert "".join(p for p, _ in pieces) == text


def test_gz_zip_tar_and_directory_read_the_same_text(tmp_path):
    docs = {"b.txt": "second doc\n", "a.txt": "first doc\n"}
    (tmp_path / "dir" / "sub").mkdir(parents=True)
    for name, text in docs.items():
        (tmp_path / "dir" / "sub" / name).write_text(text)
    (tmp_path / "dir" / "README").write_text("not corpus text")
    with gzip.open(tmp_path / "c.txt.gz", "wt") as handle:
        handle.write("first doc\nsecond doc\n")
    with zipfile.ZipFile(tmp_path / "c.zip", "w") as zf:
        for name, text in docs.items():
            zf.writestr(name, text)
    with tarfile.open(tmp_path / "c.tar.gz", "w:gz") as tf:
        for name, text in sorted(docs.items()):
            data = text.encode()
            info = tarfile.TarInfo(f"corpus/{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    for source in ("dir", "c.txt.gz", "c.zip", "c.tar.gz"):
        assert list(iter_corpus_lines(tmp_path / source)) == ["first doc", "second doc"], source


def test_chunks_concatenate_to_the_whole_text(tmp_path):
    path = tmp_path / "t.txt"
    text = "abc\ndef\n" * 1000
    path.write_text(text)
    assert "".join(iter_corpus_chunks(path, chunk_chars=333)) == text


def test_resolve_shipped_dataset_and_errors(tmp_path):
    assert resolve_corpus("tinyshakespeare").name == "tinyshakespeare.txt"
    with pytest.raises(DataError, match="no such file or dataset"):
        resolve_corpus(str(tmp_path / "missing.txt"))


def test_damaged_archive_is_a_data_error(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 this is not a zip")
    with pytest.raises(DataError):
        list(iter_corpus_lines(bad))


@pytest.mark.parametrize("name, compress", [
    ("c.txt.bz2", "bz2"), ("c.txt.xz", "lzma"), ("c.txt", "gzip"), ("c", "bz2"), ("c.gz", "gzip"),
])
def test_compressed_files_are_read_by_their_content_not_their_name(tmp_path, name, compress):
    import bz2
    import lzma

    module = {"bz2": bz2, "lzma": lzma, "gzip": gzip}[compress]
    path = tmp_path / name
    path.write_bytes(module.compress("hello world\nsecond line\n".encode()))
    assert list(iter_corpus_lines(path)) == ["hello world", "second line"]


def test_a_zip_named_otherwise_is_read_as_a_zip(tmp_path):
    path = tmp_path / "corpus.data"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("reviews.csv", "label,review\n1,fine film\n")
        archive.writestr("notes.log", "not read\n")
    assert list(iter_corpus_lines(path)) == ["label,review", "1,fine film"]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig"])
def test_unicode_files_with_a_byte_order_mark_are_decoded_by_it(tmp_path, encoding):
    path = tmp_path / "u.txt"
    text = "naïve 世界\nsecond line\n"
    mark = "\ufeff" if encoding.endswith(("-le", "-be")) else ""  # the others write their own
    path.write_bytes((mark + text).encode(encoding))
    assert list(iter_corpus_lines(path)) == ["naïve 世界", "second line"]


@pytest.mark.parametrize("layout", ["empty directory", "directory of logs", "zip of logs"])
def test_a_directory_or_archive_without_text_files_says_so(tmp_path, layout):
    if layout == "zip of logs":
        path = tmp_path / "logs.zip"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("a.log", "x\n")
    else:
        path = tmp_path / "d"
        path.mkdir()
        if layout == "directory of logs":
            (path / "a.log").write_text("x\n")
            (path / "b.txt.gz").write_bytes(gzip.compress(b"y\n"))
    with pytest.raises(DataError, match="no text files in it"):
        list(iter_corpus_lines(path))


@pytest.mark.parametrize("head", [b"\x1f\x8b", b"\xfd7zXZ\x00", b"BZh91AY&SY", b"PK\x03\x04"])
def test_garbage_behind_an_archive_s_mark_is_a_damaged_archive(tmp_path, head):
    """The first bytes say what a file is (as `file` and gzip do): these are never text."""
    path = tmp_path / "corpus.txt"
    path.write_bytes(head + b"not really compressed\n" * 20)
    with pytest.raises(DataError, match="damaged or unreadable archive"):
        list(iter_corpus_lines(path))


def test_text_that_begins_like_bzip2_s_name_is_text(tmp_path):
    (tmp_path / "t.txt").write_text("BZh is not a bzip2 file\n")
    assert list(iter_corpus_lines(tmp_path / "t.txt")) == ["BZh is not a bzip2 file"]


def test_dataset_names_are_case_insensitive(tmp_path, monkeypatch):
    from textlab.data.registry import get_dataset

    monkeypatch.chdir(tmp_path)  # (a local file of that name would be read instead)
    assert get_dataset("TinyShakespeare") is get_dataset("tinyshakespeare") is not None
    assert resolve_corpus("TINYSHAKESPEARE") == resolve_corpus("tinyshakespeare")
    assert get_dataset("tinyshakespear") is None
