"""Every command that reads a user's file, fed bad files: a sensible result or one line on stderr
and a non-zero exit, never a traceback, never a hang."""

from __future__ import annotations

import json
import os
import pickle

import pytest

BAD_FILES = {
    "empty": b"",
    "random": bytes(range(256)) * 8 + os.urandom(2048),
    "nul": b"\x00" * 500 + b"abc\x00def\n",
    "invalid_utf8": b"caf\xe9 \xff\xfe bad bytes\n" * 20,
    "punctuation": b"!!! ??? ... ,,, ;;; --- \n" * 50,
    "crlf_mixed": "Hello 世界 مرحبا\r\nsecond line\r\n".encode() * 20,
}

# Commands that take a corpus or data path, with settings that keep a run tiny.
CORPUS_COMMANDS = {
    "tokenize": ["tokenize", "{path}"],
    "vocab": ["vocab", "build", "{path}", "-o", "{out}/v.tsv", "--min-count", "1"],
    "train-w2v": ["train-w2v", "{path}", "--epochs", "1", "--min-count", "1", "--dim", "8", "-o", "{out}/w2v"],
    "train-charlm": ["train-charlm", "{path}", "--epochs", "1", "--hidden", "16", "--layers", "1", "--seq-len", "8",
                     "--batch-size", "2", "--max-minutes", "0.1", "-o", "{out}/lm"],
    "train-sentiment": ["train-sentiment", "{path}", "--epochs", "1", "--hidden", "8", "--embed-dim", "8",
                        "--max-minutes", "0.1", "-o", "{out}/sa"],
    "import-w2v": ["import-w2v", "{path}", "-o", "{out}/imported"],
    "eval-w2v-analogies": ["eval-w2v", "--model", "{w2v}", "--analogies", "{path}", "--json"],
    "eval-charlm": ["eval-charlm", "--model", "{lm}", "{path}", "--json"],
    "eval-sentiment": ["eval-sentiment", "{path}", "--json"],
}


def _check(result, what):
    stderr = result.stderr or ""
    assert "Traceback" not in stderr, (what, stderr[-2000:])
    if result.exit_code != 0:
        lines = [line for line in stderr.strip().splitlines() if line.startswith("textlab: error")]
        assert lines, (what, stderr[-500:])
        assert len(stderr.strip().splitlines()) >= 1
        assert lines[-1] == stderr.strip().splitlines()[-1], (what, stderr[-500:])


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
@pytest.mark.parametrize("command", sorted(CORPUS_COMMANDS))
def test_bad_files(cli, tmp_path, tiny_models, command, kind):
    path = tmp_path / f"{kind}.txt"
    path.write_bytes(BAD_FILES[kind])
    args = [a.format(path=path, out=tmp_path, **tiny_models) for a in CORPUS_COMMANDS[command]]
    _check(cli(*args), (command, kind))


@pytest.mark.parametrize("command", sorted(CORPUS_COMMANDS))
@pytest.mark.parametrize("where", ["missing", "directory"])
def test_missing_path_and_directory(cli, tmp_path, tiny_models, command, where):
    path = tmp_path / "nothing-here.txt"
    if where == "directory":
        path = tmp_path / "a_directory"
        path.mkdir()
    args = [a.format(path=path, out=tmp_path, **tiny_models) for a in CORPUS_COMMANDS[command]]
    result = cli(*args)
    _check(result, (command, where))
    if where == "missing":
        assert result.exit_code != 0


def _poisoned_model(folder, kind, marker):
    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"kind": kind, "config": {}, "format_version": 1}))
    (folder / "weights.safetensors").write_bytes(pickle.dumps(Payload()))
    (folder / "vocab.tsv").write_text("a\t1\n")
    return folder


MODEL_COMMANDS = {
    "word2vec": [["neighbors", "king", "--model", "{m}"], ["analogy", "a", "b", "c", "--model", "{m}"],
                 ["export-w2v", "--model", "{m}", "{out}/x.txt"]],
    "charlm": [["generate", "--model", "{m}", "--len", "5"], ["eval-charlm", "--model", "{m}", "{corpus}"]],
    "sentiment": [["sentiment", "--model", "{m}", "good film"]],
}


@pytest.mark.parametrize("kind", sorted(MODEL_COMMANDS))
def test_poisoned_or_garbage_models_are_refused(cli, tmp_path, kind):
    marker = tmp_path / "payload-ran"
    corpus = tmp_path / "c.txt"
    corpus.write_text("hello\n")
    poisoned = _poisoned_model(tmp_path / "poisoned", kind, marker)
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "config.json").write_bytes(os.urandom(300))
    absurd = tmp_path / "absurd"
    absurd.mkdir()
    (absurd / "config.json").write_text(json.dumps({"kind": kind, "format_version": 1,
                                                    "config": {"vocab_size": 10**12, "dim": 10**6}}))
    for model in (poisoned, garbage, absurd):
        for template in MODEL_COMMANDS[kind]:
            args = [a.format(m=model, out=tmp_path, corpus=corpus) for a in template]
            result = cli(*args)
            assert result.exit_code != 0, (args, result.stdout)
            _check(result, args)
    assert not marker.exists()


@pytest.mark.parametrize("command", ["train-w2v", "train-charlm", "train-sentiment"])
def test_cuda_without_cuda_is_one_line(cli, tmp_path, command):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    corpus = tmp_path / "c.csv"
    corpus.write_text("label,review\n1,good film\n0,bad film\n" * 20)
    result = cli(command, str(corpus), "--device", "cuda", "-o", str(tmp_path / "m"))
    assert result.exit_code != 0
    _check(result, command)
    assert "CUDA is not available" in result.stderr
    assert not (tmp_path / "m").exists()
