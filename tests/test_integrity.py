"""textlab.integrity: the sizes and SHA-256 of a model's files, recorded at save time and
checked before it is read (once per process while the files are unchanged)."""

from __future__ import annotations

import json

import pytest

from textlab import integrity
from textlab.errors import DataError
from textlab.integrity import CHECKSUMS_FILE, checksums_text, refresh_checksums, verify_checksums


@pytest.fixture
def recorded(tmp_path):
    (tmp_path / "config.json").write_text('{"kind": "word2vec"}\n')
    (tmp_path / "weights.safetensors").write_bytes(bytes(range(256)) * 4)
    (tmp_path / CHECKSUMS_FILE).write_text(checksums_text(tmp_path))
    return tmp_path


def test_the_files_are_recorded_and_verified(recorded):
    listing = json.loads((recorded / CHECKSUMS_FILE).read_text())
    assert listing["files"]["weights.safetensors"]["size"] == 1024
    assert sorted(listing["files"]) == ["config.json", "weights.safetensors"]
    verify_checksums(recorded)


@pytest.mark.parametrize("change, says", [(lambda b: b[:-1], "is truncated or damaged: 1,023 bytes, 1,024 recorded"),
                                          (lambda b: b[:-1] + b"\x00", "is damaged: its SHA-256 differs")])
def test_a_changed_file_is_named(recorded, change, says):
    weights = recorded / "weights.safetensors"
    weights.write_bytes(change(weights.read_bytes()))
    with pytest.raises(DataError, match=f"{weights} {says}"):
        verify_checksums(recorded)


def test_a_missing_file_is_named(recorded):
    (recorded / "config.json").unlink()
    with pytest.raises(DataError, match="config.json is missing"):
        verify_checksums(recorded)


def test_an_unchanged_directory_is_hashed_once_per_process(recorded, monkeypatch):
    hashed = []
    real = integrity.sha256_file
    monkeypatch.setattr(integrity, "sha256_file", lambda path, start=0: hashed.append(path) or real(path, start))
    verify_checksums(recorded)
    verify_checksums(recorded)
    assert len(hashed) == 2  # its two files, once
    (recorded / "config.json").write_text('{"kind": "word2vec"} \n')  # changed: verified (and refused) again
    with pytest.raises(DataError, match="config.json is truncated or damaged"):
        verify_checksums(recorded)


def test_a_rewritten_card_is_recorded_again(recorded):
    (recorded / "config.json").write_text('{"kind": "word2vec", "name": "renamed"}\n')
    refresh_checksums(recorded)
    verify_checksums(recorded)


def test_a_directory_without_checksums_is_not_checked(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    verify_checksums(tmp_path)
    refresh_checksums(tmp_path)  # and gets none
    assert not (tmp_path / CHECKSUMS_FILE).exists()


@pytest.mark.parametrize("listing", ["{", '{"format": 1, "files": {"../x": {"size": 1, "sha256": "0"}}}', "[]"])
def test_a_damaged_listing_is_refused(tmp_path, listing):
    (tmp_path / CHECKSUMS_FILE).write_text(listing)
    with pytest.raises(DataError, match=f"{CHECKSUMS_FILE} is damaged"):
        verify_checksums(tmp_path)
