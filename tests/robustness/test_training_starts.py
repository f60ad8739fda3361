"""How a training job starts and what it may not do to other runs: sizes checked before the
set-up probe builds anything, an interrupted run's checkpoint never discarded without --force,
a name a running job reserved never removed or renamed under it, a checkpoint of another kind
refused by name, and rates counted from what the steps read."""

from __future__ import annotations

import json

import pytest

from textlab.errors import DataError
from textlab.reservation import reserve_output
from textlab.runtime.checkpoints import load_checkpoint, save_checkpoint

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n" * 60  # ~3,500 characters


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text(TEXT)
    return path


@pytest.mark.parametrize("command", [
    ["train-charlm", "{corpus}", "--epochs", "1", "--hidden", "8", "--batch-size", "100000"],
    ["train-lm", "{corpus}", "--epochs", "1", "--hidden", "8", "--embed-dim", "8", "--batch-size", "100000"],
])
def test_a_batch_larger_than_the_text_is_refused_before_the_precision_probe(cli, corpus, tmp_path, command):
    """With --precision auto the probe built 100,000 full streams first: the process was killed."""
    result = cli(*[a.format(corpus=corpus) for a in command], "-o", str(tmp_path / "m"))
    assert result.exit_code == 1 and "is too short for 100000 streams; use a smaller --batch-size" in result.stderr
    assert "precision:" not in result.stderr  # refused before any probe


def test_a_sequence_longer_than_the_streams_trains_and_counts_what_it_read(cli, corpus, tmp_path):
    result = cli("train-charlm", str(corpus), "--epochs", "2", "--hidden", "8", "--seq-len", "100000",
                 "--precision", "fp32", "-o", str(tmp_path / "m"))
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((tmp_path / "m" / "config.json").read_text())["metrics"]
    read = metrics["train_chars_per_s"] * metrics["minutes"] * 60
    train_chars = json.loads((tmp_path / "m" / "config.json").read_text())["data"]["train_chars"]
    assert read <= 2 * train_chars * 1.5  # (2 epochs; minutes are rounded) not 100,000 x the batch a step


@pytest.mark.parametrize("command", [
    ["train-charlm", "{corpus}", "--epochs", "1", "--hidden", "8", "--precision", "fp32"],
    ["train-w2v", "{corpus}", "--epochs", "1", "--dim", "4", "--min-count", "1"],
])
def test_an_interrupted_run_is_not_discarded_by_starting_afresh(cli, corpus, tmp_path, command):
    output = tmp_path / "m"
    checkpoint = tmp_path / "m.ckpt"
    save_checkpoint(checkpoint, {"step": 3}, kind="charlm")
    args = [a.format(corpus=corpus) for a in command] + ["-o", str(output)]
    result = cli(*args)
    assert result.exit_code == 1 and f"an interrupted run left a checkpoint in {checkpoint}; continue it with " \
        "--resume, or pass --force to start over" in result.stderr
    assert (checkpoint / "checkpoint.json").is_file() and not output.exists()
    assert cli(*args, "--force").exit_code == 0 and not checkpoint.exists()


def test_a_checkpoint_of_another_kind_is_refused_by_name(tmp_path):
    save_checkpoint(tmp_path / "m.ckpt", {"step": 3}, kind="charlm")
    assert load_checkpoint(tmp_path / "m.ckpt", kind="charlm")["step"] == 3
    with pytest.raises(DataError, match="is the checkpoint of a charlm run, not of a word2vec one"):
        load_checkpoint(tmp_path / "m.ckpt", framework="numpy", kind="word2vec")


def test_a_reserved_name_is_not_removed_or_renamed_under_its_job(cli, tmp_path, textlab_home):
    source = tmp_path / "v.txt"
    source.write_text("2 2\nking 1 0\nqueen 0 1\n")
    for name in ("kept", "other"):
        assert cli("import-w2v", str(source), "-o", name).exit_code == 0
    models = textlab_home / "models"
    with reserve_output(models / "kept", force=True):
        for args in (["rm", "kept"], ["mv", "kept", "renamed"], ["mv", "other", "kept"]):
            result = cli("models", *args)
            assert result.exit_code == 1 and "is reserved by a running job" in result.stderr, args
    assert (models / "kept").is_dir() and (models / "other").is_dir()
    assert cli("models", "rm", "kept").exit_code == 0  # the job is over


def test_a_card_with_a_strange_creation_time_is_listed(cli, tmp_path, textlab_home):
    source = tmp_path / "v.txt"
    source.write_text("2 2\nking 1 0\nqueen 0 1\n")
    assert cli("import-w2v", str(source), "-o", "edited").exit_code == 0
    assert cli("import-w2v", str(source), "-o", "plain").exit_code == 0
    card = textlab_home / "models" / "edited" / "config.json"
    card.write_text(json.dumps({**json.loads(card.read_text()), "created": 12}))
    result = cli("models", "--json")
    assert result.exit_code == 0, result.stderr
    names = [row["name"] for row in json.loads(result.stdout)]
    assert names.index("plain") < names.index("edited")  # sorted as the oldest


@pytest.mark.parametrize("command", ["train-sentiment", "train-lm"])
def test_the_validation_part_is_one_choice_and_held_out(cli, tmp_path, command):
    data = tmp_path / "data.csv"
    data.write_text("label,review\n" + "".join(f"{i % 2},review number {i} is {'good' if i % 2 else 'bad'}\n"
                                                for i in range(40)))
    other = tmp_path / "other.csv"
    other.write_text(data.read_text())
    both = cli(command, str(data), "--valid-data", str(other), "--valid-fraction", "0.5", "-o", str(tmp_path / "m"))
    assert both.exit_code == 2 and "--valid-data and --valid-fraction both choose the validation part" in both.stderr
    itself = cli(command, str(data), "--valid-data", str(tmp_path / "." / "data.csv"), "-o", str(tmp_path / "m"))
    assert itself.exit_code == 2 and "is the training data itself" in itself.stderr
    assert not (tmp_path / "m").exists()
