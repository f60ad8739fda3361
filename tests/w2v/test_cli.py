"""The commands end to end on a tiny corpus."""

from __future__ import annotations

import json

import numpy as np
from gensim.models import KeyedVectors as GensimKeyedVectors

from .helpers import write_planted

TRAIN = ["--lang", "none", "--dim", "24", "--window", "3", "--min-count", "1", "--sample", "0",
         "--epochs", "4", "--batch-size", "64", "--seed", "3"]


def _train(cli, tmp_path, name="tiny", *extra):
    corpus = write_planted(tmp_path / "planted.txt")
    result = cli("train-w2v", str(corpus), *TRAIN, "-o", name, *extra)
    assert result.exit_code == 0, result.stderr
    return corpus


def test_round_trip(cli, tmp_path, textlab_home):
    _train(cli, tmp_path)
    card = json.loads((textlab_home / "models" / "tiny" / "config.json").read_text())
    assert card["kind"] == "word2vec" and card["config"]["arch"] == "skipgram" and card["data"]["vocab_size"] > 40
    vocab = (textlab_home / "models" / "tiny" / "vocab.tsv").read_text().splitlines()
    assert not vocab[0].startswith("<")  # no special tokens

    result = cli("neighbors", "royal0", "-k", "3")
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 3
    result = cli("analogy", "king", "man", "woman", "--json")
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    assert payload["results"][0]["word"] == "queen" and len(payload["results"]) == 5

    (tmp_path / "q.txt").write_text(": family\nman king woman queen\nboy prince girl princess\nman woman he zzz\n"
                                    ": other\nking queen man woman\n")
    (tmp_path / "pairs.tsv").write_text("# a comment\nking\tqueen\t8\nking\troyal0\t9\nman\tw3\t1\nhe\tshe\t6\nzzz\the\t3\n")
    result = cli("eval-w2v", "--model", "tiny", "--analogies", str(tmp_path / "q.txt"),
                 "--similarity", str(tmp_path / "pairs.tsv"), "--json")
    assert result.exit_code == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["analogy_seen"] == 3 and figures["analogy_accuracy"] >= 2 / 3
    assert figures["similarity"]["pairs"]["pairs"] == 4 and -1 <= figures["pairs"] <= 1
    before = (textlab_home / "models" / "tiny" / "config.json").read_bytes()
    assert "analogy_accuracy" not in json.loads(before)["metrics"]  # a query does not write
    result = cli("eval-w2v", "--model", "tiny", "--analogies", str(tmp_path / "q.txt"),
                 "--similarity", str(tmp_path / "pairs.tsv"), "--save-metrics")
    assert result.exit_code == 0, result.stderr
    card = json.loads((textlab_home / "models" / "tiny" / "config.json").read_text())
    assert card["metrics"]["analogy_accuracy"] == figures["analogy_accuracy"]
    assert card["metrics"]["spearman_pairs"] == figures["pairs"] and card["metrics"]["analogy_sets"] == ["q"]

    result = cli("eval-w2v", "--analogies", str(tmp_path / "q.txt"), "--similarity", str(tmp_path / "pairs.tsv"))
    assert result.exit_code == 0 and "family" in result.stdout
    (tmp_path / "one.tsv").write_text("king\tqueen\t8\n")  # one pair: no correlation, still valid JSON
    result = cli("eval-w2v", "--analogies", str(tmp_path / "q.txt"), "--similarity", str(tmp_path / "one.tsv"), "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["one"] is None


def test_export_import_and_plot(cli, tmp_path):
    _train(cli, tmp_path)
    for binary in (False, True):
        out = tmp_path / ("v.bin" if binary else "v.txt")
        result = cli("export-w2v", str(out), *(["--binary"] if binary else []))
        assert result.exit_code == 0, result.stderr
        loaded = GensimKeyedVectors.load_word2vec_format(str(out), binary=binary)
        ours = json.loads(cli("neighbors", "king", "-k", "5", "--json").stdout)["results"]
        assert [w for w, _ in loaded.most_similar("king", topn=5)] == [r["word"] for r in ours]
        assert cli("export-w2v", str(out)).exit_code == 1  # no overwrite without --force
        name = f"imported{int(binary)}"
        result = cli("import-w2v", str(out), "-o", name)
        assert result.exit_code == 0, result.stderr
        again = json.loads(cli("neighbors", "king", "-k", "5", "--json", "--model", name).stdout)["results"]
        assert [r["word"] for r in again] == [r["word"] for r in ours]
        np.testing.assert_allclose([r["score"] for r in again], [r["score"] for r in ours], atol=1e-5)
    result = cli("plot-w2v", "--model", "tiny", "--top", "40", "--method", "pca", "-o", str(tmp_path / "p.png"))
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    result = cli("plot-w2v", "--model", "tiny", "--words", "king,queen,nope", "-o", str(tmp_path / "q.png"))
    assert result.exit_code == 1 and "'nope'" in result.stderr


def test_errors_are_one_line(cli, tmp_path):
    _train(cli, tmp_path)
    for args in (["neighbors", "unicorn"], ["analogy", "king", "unicorn", "woman"]):
        result = cli(*args)
        assert result.exit_code == 1
        assert result.stderr.count("\n") == 1 and "'unicorn'" in result.stderr
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"3 4\nabc \x00\x00")
    result = cli("import-w2v", str(bad), "-o", "bad")
    assert result.exit_code == 1 and result.stderr.startswith("textlab: error:") and result.stderr.count("\n") == 1
    result = cli("train-w2v", str(tmp_path / "planted.txt"), *TRAIN, "-o", "tiny")
    assert result.exit_code == 1 and "--force" in result.stderr
    result = cli("neighbors", "king", "--model", "nosuchmodel")
    assert result.exit_code == 1


def test_diverged_training_is_refused_not_saved(cli, tmp_path):
    """An absurd learning rate on twelve equally frequent words makes the vectors non-finite:
    refused in one line, nothing saved."""
    import random

    rng = random.Random(0)
    words = "the king queen man woman rules land sea castle crown sword horse".split()
    corpus = tmp_path / "w12.txt"
    corpus.write_text("\n".join(" ".join(rng.choice(words) for _ in range(30)) for _ in range(4000)) + "\n")
    result = cli("train-w2v", str(corpus), "--epochs", "1", "--dim", "32", "--min-count", "1", "--lang", "none",
                 "--lr", "10", "-o", str(tmp_path / "m"))
    errors = [line for line in result.stderr.splitlines() if line.startswith("textlab: error:")]
    assert result.exit_code == 1 and len(errors) == 1 and "diverged" in errors[0]
    assert result.stderr.rstrip().endswith(errors[0]) and not (tmp_path / "m").exists()


def test_one_worker_is_reproducible_and_workers_are_recorded(cli, tmp_path, textlab_home):
    _train(cli, tmp_path, "one-a", "--workers", "1")
    _train(cli, tmp_path, "one-b", "--workers", "1")
    _train(cli, tmp_path, "two", "--workers", "2")
    models = textlab_home / "models"
    weights = [(models / name / "weights.safetensors").read_bytes() for name in ("one-a", "one-b")]
    assert weights[0] == weights[1]  # one process: the same vectors bit for bit
    cards = {name: json.loads((models / name / "config.json").read_text()) for name in ("one-a", "two")}
    assert (cards["one-a"]["config"]["workers"], cards["two"]["config"]["workers"]) == (1, 2)
    assert cli("analogy", "king", "man", "woman", "--model", "two", "--json").exit_code == 0


def test_a_run_that_trained_no_pair_says_so(cli, tmp_path):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("the cat sat on the mat\nthe dog sat on the log\n")
    args = ["train-w2v", str(corpus), "--epochs", "1", "--min-count", "1", "--dim", "8", "--workers", "1", "--json"]
    result = cli(*args, "--sample", "1e-5", "-o", str(tmp_path / "subsampled"))  # keeps each word with p < 0.01
    assert result.exit_code == 0 and json.loads(result.stdout)["pairs"] == 0
    assert "warning: no (word, context) pair was trained" in result.stderr and "--sample 0" in result.stderr
    result = cli(*args, "--sample", "0", "-o", str(tmp_path / "kept"))
    assert result.exit_code == 0 and json.loads(result.stdout)["pairs"] > 0 and "warning" not in result.stderr


def test_options_of_the_engine_that_does_not_run_are_named(cli, tmp_path):
    corpus = write_planted(tmp_path / "planted.txt")
    result = cli("train-w2v", str(corpus), *TRAIN, "--engine", "hogwild", "--compile", "eager", "-o", str(tmp_path / "h"))
    assert result.exit_code == 0 and "note: --batch-size and --compile set the device engine's work; the hogwild " \
        "engine runs here and trains without them" in result.stderr
    result = cli("train-w2v", str(corpus), *[a for a in TRAIN if a not in ("--batch-size", "64")], "--engine", "device",
                 "--workers", "2", "-o", str(tmp_path / "d"))
    assert result.exit_code == 0 and "note: --workers sets the hogwild engine's work" in result.stderr
    plain = cli("train-w2v", str(corpus), *[a for a in TRAIN if a not in ("--batch-size", "64")], "-o", str(tmp_path / "p"))
    assert plain.exit_code == 0 and "note:" not in plain.stderr
