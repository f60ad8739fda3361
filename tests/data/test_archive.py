from __future__ import annotations

import io
import tarfile
import zipfile

import pytest

from textlab.data.archive import safe_extract
from textlab.errors import DataError


def _tar(path, members):
    with tarfile.open(path, "w:gz") as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)


def _file(name, data=b"x"):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def test_normal_tar_extracts(tmp_path):
    _tar(tmp_path / "ok.tar.gz", [_file("a/b.txt", b"hello")])
    target = safe_extract(tmp_path / "ok.tar.gz", tmp_path / "out")
    assert (target / "a" / "b.txt").read_bytes() == b"hello"


@pytest.mark.parametrize("name", ["../evil.txt", "/tmp/evil.txt", "a/../../evil.txt"])
def test_tar_members_escaping_are_refused(tmp_path, name):
    _tar(tmp_path / "bad.tar.gz", [_file("fine.txt"), _file(name)])
    with pytest.raises(DataError, match="refusing"):
        safe_extract(tmp_path / "bad.tar.gz", tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()
    assert not (tmp_path / "out" / "fine.txt").exists()  # nothing written when any member is bad


def test_tar_symlink_outside_is_refused(tmp_path):
    link = tarfile.TarInfo("link")
    link.type = tarfile.SYMTYPE
    link.linkname = "../../etc/passwd"
    _tar(tmp_path / "bad.tar.gz", [(link, None)])
    with pytest.raises(DataError, match="link"):
        safe_extract(tmp_path / "bad.tar.gz", tmp_path / "out")


def test_zip_slip_is_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as zf:
        zf.writestr("../evil.txt", "x")
    with pytest.raises(DataError, match="refusing"):
        safe_extract(tmp_path / "bad.zip", tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()
