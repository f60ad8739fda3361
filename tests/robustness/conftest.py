"""Shared fixtures for the robustness tests."""

import pytest

#: train-lm settings that keep a run tiny (seconds).
TINY_WORD_LM = ["--epochs", "1", "--embed-dim", "8", "--hidden", "8", "--seq-len", "8", "--batch-size", "2",
                "--precision", "fp32"]


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    """A tiny word2vec, char LM and word LM (trained once per module) for the commands that need
    a model, and the corpus they were trained on: ``{"w2v", "lm", "wlm", "corpus"}`` (paths as
    strings)."""
    from typer.testing import CliRunner

    from textlab.cli import app

    folder = tmp_path_factory.mktemp("models")
    corpus = folder / "corpus.txt"
    corpus.write_text("the king rules the land and the queen rules the sea . a man and a woman\n" * 40)
    runner = CliRunner()
    w2v = runner.invoke(app, ["train-w2v", str(corpus), "--epochs", "1", "--min-count", "1", "--dim", "8",
                              "-o", str(folder / "w2v")])
    assert w2v.exit_code == 0, w2v.output
    lm = runner.invoke(app, ["train-charlm", str(corpus), "--epochs", "1", "--hidden", "8", "--layers", "1",
                             "--seq-len", "8", "--batch-size", "4", "-o", str(folder / "lm")])
    assert lm.exit_code == 0, lm.output
    wlm = runner.invoke(app, ["train-lm", str(corpus), *TINY_WORD_LM, "-o", str(folder / "wlm")])
    assert wlm.exit_code == 0, wlm.output
    return {"w2v": str(folder / "w2v"), "lm": str(folder / "lm"), "wlm": str(folder / "wlm"), "corpus": str(corpus)}
