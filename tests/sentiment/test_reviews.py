"""Labelled review readers on small fixtures written here: aclImdb directory and tarball, CSVs."""

from __future__ import annotations

import io
import tarfile
import zipfile

import pytest

from textlab.data.reviews import ReadStats, iter_reviews
from textlab.errors import DataError

REVIEWS = {
    "train/pos/1_9.txt": "Great film.<br />Loved it.",
    "train/pos/2_8.txt": "Wonderful acting.",
    "train/neg/3_2.txt": "Awful, boring.",
    "train/unsup/4_0.txt": "No label here.",
    "test/pos/5_10.txt": "A masterpiece.",
    "test/neg/6_1.txt": "Terrible \xe9 plot.",
}


def write_dir(root):
    for name, text in REVIEWS.items():
        path = root / "aclImdb" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (root / "aclImdb" / "README").write_text("readme")
    return root / "aclImdb"


def write_tar(tmp_path):
    tarball = tmp_path / "aclImdb_small.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        for name, text in REVIEWS.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(f"aclImdb/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        bad = b"\xff\xfe broken bytes"
        info = tarfile.TarInfo("aclImdb/test/pos/7_9.txt")
        info.size = len(bad)
        tar.addfile(info, io.BytesIO(bad))
    return tarball


def test_aclimdb_directory_splits(tmp_path):
    root = write_dir(tmp_path)
    train = sorted(iter_reviews(root, "train"))
    assert train == [("Awful, boring.", 0), ("Great film.<br />Loved it.", 1), ("Wonderful acting.", 1)]
    test = sorted(iter_reviews(tmp_path, "test"))  # the parent of aclImdb/ works too
    assert [label for _, label in test] == [1, 0]


def test_aclimdb_tarball_streams_and_replaces_bad_bytes(tmp_path):
    tarball = write_tar(tmp_path)
    train = sorted(iter_reviews(tarball, "train"))
    assert [label for _, label in train] == [0, 1, 1]
    test = dict(iter_reviews(tarball, "test"))
    assert test["A masterpiece."] == 1
    assert any("\ufffd" in text for text in test)  # invalid UTF-8 replaced, not a crash


def test_csv_label_review_and_malformed_rows(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text("label,review\n1,很好，非常满意\n0,\"太差了, 再也不来\"\n2,bad label\n1,\n0,unquoted, comma kept\n",
                    encoding="utf-8")
    stats = ReadStats()
    rows = list(iter_reviews(path, stats=stats))
    assert rows == [("很好，非常满意", 1), ("太差了, 再也不来", 0), ("unquoted, comma kept", 0)]
    assert stats.skipped == 2 and "label" in stats.first_problem


def test_zip_with_category_column(tmp_path):
    path = tmp_path / "shop.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("shop.csv", "cat,label,review\n书籍,1,好书\n水果,0,不新鲜\n")
    assert list(iter_reviews(path)) == [("好书", 1), ("不新鲜", 0)]


def test_unusable_inputs_are_clear_errors(tmp_path):
    no_header = tmp_path / "x.csv"
    no_header.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="label"):
        list(iter_reviews(no_header))
    only_bad = tmp_path / "bad.csv"
    only_bad.write_text("label,review\nx,y\n")
    with pytest.raises(DataError, match="no labelled reviews"):
        list(iter_reviews(only_bad))
    with pytest.raises(DataError, match="no such file"):
        list(iter_reviews(tmp_path / "missing.csv"))
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(DataError, match="aclImdb"):
        list(iter_reviews(tmp_path / "empty_dir"))


def test_long_csv_reviews_are_read_without_changing_the_csv_field_limit(tmp_path):
    """A review longer than the csv module's default field limit (131,072 characters) is read;
    the process-wide limit is only raised while a row is read."""
    import csv

    long_review = "good " * 40_000  # 200,000 characters
    path = tmp_path / "long.csv"
    path.write_text(f"label,review\n1,{long_review}\n0,bad\n")
    before = csv.field_size_limit()
    reviews = iter_reviews(path)
    first = next(reviews)
    assert csv.field_size_limit() == before  # also while the reader is suspended
    assert first == (long_review.strip(), 1) and list(reviews) == [("bad", 0)]
    assert csv.field_size_limit() == before


def test_other_column_names_tsv_and_fasttext_files(tmp_path):
    """What other tools write: a text,label CSV (Hugging Face's IMDb export), GLUE's SST-2
    sentence<TAB>label TSV (quotes are text there), fastText's __label__ lines."""
    hf = tmp_path / "hf.csv"
    hf.write_text('text,label\n"A fine, warm film.",1\nDull.,0\n')
    assert list(iter_reviews(hf)) == [("A fine, warm film.", 1), ("Dull.", 0)]
    sst = tmp_path / "dev.tsv"
    sst.write_text('sentence\tlabel\nit \'s a " charming " and often affecting journey . \t1\nunflinchingly bleak\t0\n')
    assert list(iter_reviews(sst)) == [("it 's a \" charming \" and often affecting journey .", 1),
                                       ("unflinchingly bleak", 0)]
    tabs_in_txt = tmp_path / "plain.txt"  # tabs and no comma in the header: tab-separated whatever the name
    tabs_in_txt.write_text("polarity\tcontent\tid\nneg\tworst, ever\t7\n")
    assert list(iter_reviews(tabs_in_txt)) == [("worst, ever", 0)]
    fasttext = tmp_path / "train.txt"
    fasttext.write_text("__label__positive a moving , funny film\n\n__label__neg dull __label__neg\n"
                        "__label__pos __label__neg mixed\n__label__2 two\nno label here\n")
    stats = ReadStats()
    assert list(iter_reviews(fasttext, stats=stats)) == [("a moving , funny film", 1), ("dull", 0)]
    assert stats.skipped == 3 and stats.first_problem == "line 4: 2 labels, expected one"


def test_a_header_without_a_text_column_names_the_accepted_ones(tmp_path):
    path = tmp_path / "x.tsv"
    path.write_text("label\tbody\n1\tgood\n")
    with pytest.raises(DataError, match=r"text column \(review, text, sentence, content, comment\), found \['label', 'body'\]"):
        list(iter_reviews(path))
    blank = tmp_path / "blank.csv"
    blank.write_text("\nlabel,review\n1,good\n")
    with pytest.raises(DataError, match="first line .* is blank"):
        list(iter_reviews(blank))


def test_a_training_part_left_with_one_label_is_refused(cli, tmp_path):
    """Two reviews: the validation part takes one, and a model of one label scored 1.0 on it."""
    data = tmp_path / "two.csv"
    data.write_text("label,review\n1,a good film\n0,a bad film\n")
    result = cli("train-sentiment", str(data), "--epochs", "1", "-o", str(tmp_path / "m"))
    assert result.exit_code == 1 and "the training part (1 reviews after the validation part is held out) holds " \
        "one label only" in result.stderr
    assert not (tmp_path / "m").exists()


def test_a_fasttext_file_is_read_whatever_its_name(cli, tmp_path):
    data = tmp_path / "reviews.train"  # fastText's own naming
    data.write_text("__label__pos a wonderful and moving film\n__label__neg an awful, boring and dull film\n" * 3)
    from textlab.data.reviews import iter_reviews

    assert [label for _, label in iter_reviews(str(data))] == [1, 0] * 3


@pytest.mark.parametrize("compress", ["gzip", "bz2", "lzma", "zip"])
def test_a_compressed_labelled_file_is_read_by_its_content_as_corpora_are(tmp_path, compress):
    import bz2
    import gzip
    import lzma
    import zipfile

    from textlab.data.reviews import iter_reviews

    text = "label,review\n1,a wonderful film\n0,an awful film\n"
    data = tmp_path / "reviews.csv"  # named as plain CSV
    if compress == "zip":
        with zipfile.ZipFile(data, "w") as archive:
            archive.writestr("inner.csv", text)
    else:
        data.write_bytes({"gzip": gzip, "bz2": bz2, "lzma": lzma}[compress].compress(text.encode()))
    assert list(iter_reviews(str(data))) == [("a wonderful film", 1), ("an awful film", 0)]
