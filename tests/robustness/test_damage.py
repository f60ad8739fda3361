"""Damaged files: a truncated or bit-flipped card, vocabulary or weights file of a model, id
file in the cache or checkpoint. A model or checkpoint is refused in one line that names the
damaged file (sizes and SHA-256 recorded when it was saved); a damaged cache entry is encoded
again, said in one line. Models saved before checksums existed still load."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.robustness.answers import refused, succeeded
from tests.robustness.faults import write_corpus

TRAIN = ["--epochs", "1", "--dim", "16", "--min-count", "1", "--lang", "none", "--workers", "1"]


def flip_bit(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 3 // 4])


def harmless_offset(path: Path) -> int:
    """A byte whose flip keeps the file well-formed (so only a checksum can tell): a letter of
    the card's command line, the first word of the vocabulary, the last byte of the tensors."""
    data = path.read_bytes()
    if path.name == "config.json":
        return data.index(b'"command": "textlab') + len(b'"command": "') + 2
    if path.name == "vocab.tsv":
        return 0  # "w0" becomes "v0"
    return len(data) - 1


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from typer.testing import CliRunner

    from textlab.cli import app

    folder = tmp_path_factory.mktemp("damage")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TEXTLAB_HOME", str(folder / "home"))
        corpus = write_corpus(folder / "corpus.txt")
        result = CliRunner().invoke(app, ["train-w2v", corpus, *TRAIN, "-o", str(folder / "w2v")])
    assert result.exit_code == 0, result.stderr
    return folder / "w2v"


@pytest.mark.parametrize("damage", ["flip", "truncate"])
@pytest.mark.parametrize("name", ["config.json", "vocab.tsv", "weights.safetensors"])
def test_a_damaged_model_file_is_refused_by_name(cli, trained, tmp_path, name, damage):
    model = shutil.copytree(trained, tmp_path / "w2v")
    if damage == "flip":
        flip_bit(model / name, harmless_offset(model / name))
    else:
        truncate(model / name)
    for command in (["neighbors", "w1", "--model", str(model)], ["export-w2v", str(tmp_path / "x.txt"), "--model",
                                                                 str(model)]):
        line = refused(cli(*command), (name, damage), name)
        assert str(model) in line, line
    assert not (tmp_path / "x.txt").exists()


@pytest.mark.parametrize("kind, name", [("sentiment", "en"), ("charlm", "shakespeare"), ("word2vec", "zh")])
def test_shipped_models_are_protected_too(cli, tmp_path, kind, name):
    from textlab.store.shipped import shipped_model

    shipped = shipped_model(kind, name)
    copy = shutil.copytree(shipped, tmp_path / name)
    flip_bit(copy / "weights.safetensors", harmless_offset(copy / "weights.safetensors"))
    command = {"sentiment": ["sentiment", "--model", str(copy), "good"],
               "charlm": ["generate", "--model", str(copy), "--len", "5"],
               "word2vec": ["neighbors", "国王", "--model", str(copy)]}[kind]
    refused(cli(*command), kind, "weights.safetensors")
    from textlab.integrity import verify_checksums

    verify_checksums(shipped)  # the shipped files themselves are as they were built


def test_models_saved_without_checksums_still_load(cli, trained, tmp_path):
    model = shutil.copytree(trained, tmp_path / "old")
    (model / "checksums.json").unlink()
    succeeded(cli("neighbors", "w1", "--model", str(model)), "a model from before checksums")


def test_changing_a_card_keeps_the_model_loadable(cli, trained, textlab_home):
    """Renaming a model and recording metrics rewrite its card: the checksums follow."""
    shutil.copytree(trained, textlab_home / "models" / "first")
    succeeded(cli("models", "mv", "first", "second"), "rename")
    succeeded(cli("neighbors", "w1", "--model", "second"), "after the rename")
    analogies = textlab_home / "q.txt"
    analogies.write_text(": s\nw1 w2 w3 w4\n")
    succeeded(cli("eval-w2v", "--model", "second", "--analogies", str(analogies), "--save-metrics"), "metrics")
    succeeded(cli("neighbors", "w1", "--model", "second"), "after recording metrics")


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_a_damaged_cache_entry_is_encoded_again(cli, tmp_path, textlab_home, damage):
    corpus = write_corpus(tmp_path / "corpus.txt")
    succeeded(cli("train-w2v", corpus, *TRAIN, "-o", str(tmp_path / "a")), "first")
    [entry] = (textlab_home / "cache" / "ids").glob("*.ids")
    original = entry.read_bytes()
    if damage == "flip":
        flip_bit(entry, len(original) - 3)  # an id, not the header: the file still looks whole
    else:
        truncate(entry)
    again = cli("train-w2v", corpus, *TRAIN, "-o", str(tmp_path / "b"))
    succeeded(again, "second")
    assert "refusing the cached id file" in again.stderr and "encoding the corpus again" in again.stderr
    assert "reusing" not in again.stderr
    assert entry.read_bytes() == original


@pytest.mark.parametrize("part", ["tensors", "structure"])
def test_a_damaged_checkpoint_is_refused_by_name(tmp_path, part):
    import torch

    from textlab.errors import DataError
    from textlab.runtime.checkpoints import load_checkpoint, save_checkpoint

    ckpt = tmp_path / "m.ckpt"
    save_checkpoint(ckpt, {"step": 12345, "weights": torch.arange(100.0)})
    if part == "tensors":
        [damaged] = ckpt.glob("*.safetensors")
        flip_bit(damaged, damaged.stat().st_size - 1)
    else:
        damaged = ckpt / "checkpoint.json"
        text = damaged.read_text()
        damaged.write_text(text.replace("12345", "12344"))
    with pytest.raises(DataError, match=damaged.name):
        load_checkpoint(ckpt)


def test_the_checksums_file_itself_is_checked(cli, trained, tmp_path):
    model = shutil.copytree(trained, tmp_path / "w2v")
    listing = json.loads((model / "checksums.json").read_text())
    assert set(listing["files"]) >= {"config.json", "vocab.tsv", "weights.safetensors"}
    (model / "checksums.json").write_text("{not json")
    refused(cli("neighbors", "w1", "--model", str(model)), "a damaged checksums.json", "checksums.json")
