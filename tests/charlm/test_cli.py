import json

TRAIN_FLAGS = ["--hidden", "48", "--layers", "1", "--dropout", "0", "--seq-len", "32", "--batch-size", "8",
               "--epochs", "2", "--lr", "0.01"]


def train(cli, corpus, out, *extra):
    return cli("train-charlm", str(corpus), *TRAIN_FLAGS, "-o", str(out), *extra)


def test_train_generate_eval(cli, tmp_path, corpus_file):
    out = tmp_path / "model"
    result = train(cli, corpus_file, out)
    assert result.exit_code == 0, result.stderr
    card = json.loads((out / "config.json").read_text())
    assert card["kind"] == "charlm" and card["config"]["hidden"] == 48
    assert card["metrics"]["val_loss"] > 0 and card["data"]["train_chars"] > 0
    assert "val loss" in result.stderr and "bpc" in result.stderr
    assert not (tmp_path / "model.ckpt").exists()
    assert (out / "curve.png").read_bytes()[:4] == b"\x89PNG"  # the loss curve ships with the model

    result = cli("generate", "--model", str(out), "--seed", "the ", "--len", "120", "--top-k", "3")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("the ") and result.stdout.endswith("\n")
    assert len(result.stdout) == len("the ") + 120 + 1

    result = cli("generate", "--model", str(out), "--seed", "a", "--len", "30", "--stream")
    assert result.exit_code == 0 and result.stdout.startswith("a")

    result = cli("eval-charlm", "--model", str(out), str(corpus_file), "--json")
    assert result.exit_code == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert set(metrics) == {"loss", "perplexity", "bpc", "chars", "model"} and metrics["model"] == str(out)
    assert result.stderr == ""  # the model was named: nothing to announce
    assert metrics["chars"] == len(corpus_file.read_text()) - 1


def test_generate_rejects_unknown_seed_chars(cli, tmp_path, corpus_file):
    out = tmp_path / "model"
    assert train(cli, corpus_file, out, "--epochs", "1").exit_code == 0
    result = cli("generate", "--model", str(out), "--seed", "the ZQ")
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "'Z'" in lines[0] and "'Q'" in lines[0]


def test_refuses_to_overwrite_without_force(cli, tmp_path, corpus_file):
    out = tmp_path / "model"
    assert train(cli, corpus_file, out, "--epochs", "1").exit_code == 0
    again = train(cli, corpus_file, out, "--epochs", "1")
    assert again.exit_code != 0 and "--force" in again.stderr
    assert train(cli, corpus_file, out, "--epochs", "1", "--force").exit_code == 0


def test_chinese_seed(cli, tmp_path):
    corpus = tmp_path / "zh.txt"
    corpus.write_text("宝玉笑道：林妹妹来了。黛玉听了，便笑道：宝玉又来了。\n" * 80, encoding="utf-8")
    out = tmp_path / "zh"
    assert train(cli, corpus, out).exit_code == 0
    result = cli("generate", "--model", str(out), "--seed", "宝玉", "--len", "20")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("宝玉") and len(result.stdout) == 2 + 20 + 1


def test_default_model_is_newest(cli, corpus_file):
    assert cli("train-charlm", str(corpus_file), *TRAIN_FLAGS, "--epochs", "1", "-o", "tiny").exit_code == 0
    result = cli("generate", "--seed", "the", "--len", "5")
    assert result.exit_code == 0 and result.stdout.startswith("the")


def test_interrupt_leaves_checkpoint_and_resume_finishes(cli, tmp_path, corpus_file, monkeypatch):
    import contextlib

    import textlab.runtime.signals

    from tests.charlm.test_model import StopAfter

    @contextlib.contextmanager
    def stop_after_five():
        yield StopAfter(5)

    monkeypatch.setattr(textlab.runtime.signals, "graceful_stop", stop_after_five)
    out = tmp_path / "model"
    result = train(cli, corpus_file, out)
    assert result.exit_code == 130
    assert "--resume" in result.stderr and "step 5" in result.stderr
    assert (tmp_path / "model.ckpt" / "checkpoint.json").is_file() and not out.exists()

    monkeypatch.undo()
    result = cli("train-charlm", str(corpus_file), "--resume", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert "resuming at step 5" in result.stderr
    assert not (tmp_path / "model.ckpt").exists()
    card = json.loads((out / "config.json").read_text())
    assert card["config"]["hidden"] == 48  # the settings came from the checkpoint


def test_eval_refuses_a_file_too_short_to_measure(cli, tmp_path, corpus_file):
    out = tmp_path / "model"
    assert train(cli, corpus_file, out).exit_code == 0
    short = tmp_path / "short.txt"
    short.write_text("")
    result = cli("eval-charlm", "--model", str(out), str(short), "--json")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("textlab: error:") and "at least 2" in result.stderr
    short.write_text("a")  # read as the line "a\n": one prediction, a finite loss
    result = cli("eval-charlm", "--model", str(out), str(short), "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["chars"] == 1


def test_a_seed_pasted_with_windows_line_ends_reads_as_the_model_s_newlines(cli):
    pasted = cli("generate", "--model", "shipped:shakespeare", "--seed", "ROMEO:\r\n", "--len", "30", "--random-seed", "3")
    plain = cli("generate", "--model", "shipped:shakespeare", "--seed", "ROMEO:\n", "--len", "30", "--random-seed", "3")
    assert pasted.exit_code == 0, pasted.stderr
    assert pasted.stdout == plain.stdout and pasted.stdout.startswith("ROMEO:\n")
