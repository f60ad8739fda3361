"""Every command that reads a user's file, fed bad files: the result the file calls for (checked
against what the library's parts compute from it) or the one line that says what is wrong with
it, and a non-zero exit; never a traceback, an internal error or a hang."""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.robustness.conftest import TINY_WORD_LM
from tests.robustness.answers import (
    check_charlm_model,
    check_eval_charlm,
    check_tokenize_output,
    check_vocab_tsv,
    check_eval_lm,
    check_word2vec_model,
    check_wordlm_model,
    decode,
    error_line,
    refused,
    succeeded,
    token_counts,
    word_documents,
)

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
    "train-lm": ["train-lm", "{path}", *TINY_WORD_LM, "-o", "{out}/wlm"],
    "eval-lm": ["eval-lm", "--model", "{wlm}", "{path}", "--json"],
    "eval-sentiment": ["eval-sentiment", "{path}", "--json"],
}


def _check(result, what):
    """Success, or one line ``textlab: error: ...`` at the end of stderr (never an internal error)."""
    error_line(result, what)


def _expect_text_answer(command: str, result, data: bytes | None, out: Path, tiny_models: dict) -> None:
    """The correct answer of a corpus command for a readable file holding ``data`` (``None``:
    an empty directory, which holds no text)."""
    what = (command, data[:40] if data else data)
    if data is None and command in ("tokenize", "vocab", "train-w2v", "train-charlm", "eval-charlm", "train-lm",
                                    "eval-lm"):
        refused(result, what, "a_directory: no text files in it")  # not an empty answer: nothing was read
        return
    text = decode(data or b"")
    text += "" if not text or text.endswith("\n") else "\n"
    counts = token_counts(data or b"")
    if command == "tokenize":
        succeeded(result, what)
        check_tokenize_output(result.stdout, data or b"")
    elif command == "vocab":
        succeeded(result, what)
        check_vocab_tsv(out / "v.tsv", counts)
    elif command == "train-w2v":
        if not counts:
            refused(result, what, "the corpus has no words")
        elif len(counts) < 2:
            refused(result, what, "fewer than 2 words occur at least 1 times")
        else:
            succeeded(result, what)
            check_word2vec_model(out / "w2v", set(counts))
    elif command == "train-charlm":
        if len(text) < 20:
            refused(result, what, f"holds only {len(text)} characters")
        elif len(set(text)) < 2:
            refused(result, what, "a single distinct character")
        else:
            succeeded(result, what)
            check_charlm_model(out / "lm", set(text))
    elif command == "eval-charlm":
        check_eval_charlm(result, what, text, set(open(tiny_models["corpus"], encoding="utf-8").read()))
    elif command == "train-lm":
        documents = word_documents(data or b"")
        tokens = sum(len(d) + 1 for d in documents[: len(documents) - 1]) + 1  # the training part, <eos> included
        if not documents:
            refused(result, what, "holds no words")
        elif len(documents) < 2:
            refused(result, what, "holds a single document")
        elif tokens < 4:
            refused(result, what, f"({tokens} tokens) is too short for 2 streams")
        else:
            succeeded(result, what)
            check_wordlm_model(out / "wlm")
    elif command == "eval-lm":
        check_eval_lm(result, what, data or b"", tiny_models["wlm"])
    elif command in ("train-sentiment", "eval-sentiment"):
        split = "train" if command == "train-sentiment" else "test"
        if data is None:
            refused(result, what, f"is not an aclImdb directory (no {split}/pos and {split}/neg folders)")
        elif not text:
            refused(result, what, "is empty")
        else:  # none of the bad files is a labelled CSV, TSV or fastText file
            refused(result, what, "expected a header naming a label column (label, sentiment, polarity) and a text column")
    elif command == "import-w2v":
        if data is None:
            refused(result, what, "is a directory")
        else:
            refused(result, what, "not a word2vec file (the first line must be '<count> <dimension>')")
    elif command == "eval-w2v-analogies":
        lines = [line.split() for line in text.split("\n") if line.strip() and not line.startswith(":")]
        if data is None:
            refused(result, what, "is a directory")
        elif any(len(words) != 4 for words in lines):
            refused(result, what, "expected 4 words per analogy question")
        elif error_line(result, what) is not None:
            refused(result, what, "no analogy questions", "analogy")  # a file without questions may be refused
        else:  # questions in words the model does not know: none can be answered
            figures = json.loads(result.stdout)
            assert figures["analogy_seen"] == figures["analogy_correct"] == 0, figures
    else:
        raise AssertionError(f"no expected answer for {command}")


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
@pytest.mark.parametrize("command", sorted(CORPUS_COMMANDS))
def test_bad_files(cli, tmp_path, tiny_models, command, kind):
    path = tmp_path / f"{kind}.txt"
    path.write_bytes(BAD_FILES[kind])
    args = [a.format(path=path, out=tmp_path, **tiny_models) for a in CORPUS_COMMANDS[command]]
    _expect_text_answer(command, cli(*args), BAD_FILES[kind], tmp_path, tiny_models)


@pytest.mark.parametrize("command", sorted(CORPUS_COMMANDS))
@pytest.mark.parametrize("where", ["missing", "directory"])
def test_missing_path_and_directory(cli, tmp_path, tiny_models, command, where):
    path = tmp_path / "nothing-here.txt"
    if where == "directory":
        path = tmp_path / "a_directory"
        path.mkdir()
    args = [a.format(path=path, out=tmp_path, **tiny_models) for a in CORPUS_COMMANDS[command]]
    result = cli(*args)
    if where == "missing":
        refused(result, (command, where), "no such file")
        assert str(path) in result.stderr
    else:
        _expect_text_answer(command, result, None, tmp_path, tiny_models)


def _damaged_archives(folder: Path) -> dict[str, Path]:
    """Archives cut short or with a flipped byte, of a corpus, a review CSV and aclImdb."""
    text = ("the king rules the land and the queen rules the sea\n" * 4000).encode()
    csv_text = ("label,review\n" + "1,a good film\n0,a bad film\n" * 4000).encode()
    made = {}

    def damaged(name: str, data: bytes) -> None:
        cut, flipped = folder / f"cut-{name}", folder / f"flipped-{name}"
        cut.write_bytes(data[: len(data) * 2 // 3])
        middle = bytearray(data)
        middle[len(data) // 2] ^= 0xFF
        flipped.write_bytes(bytes(middle))
        made[f"cut-{name}"], made[f"flipped-{name}"] = cut, flipped

    damaged("corpus.txt.gz", gzip.compress(text))
    for name, payload in (("corpus.zip", text), ("reviews.zip", csv_text)):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(name.replace(".zip", ".csv" if "reviews" in name else ".txt"), payload)
        damaged(name, buffer.getvalue())
    damaged("reviews.csv.gz", gzip.compress(csv_text))
    for mode in ("gz", "bz2", "xz"):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode=f"w:{mode}") as archive:
            for member in ("aclImdb/train/pos/1_9.txt", "aclImdb/train/neg/2_1.txt", "aclImdb/train/pos/3_8.txt"):
                info = tarfile.TarInfo(member)
                info.size = len(text)
                archive.addfile(info, io.BytesIO(text))
        damaged(f"aclImdb.tar.{mode}", buffer.getvalue())
    # An uncompressed tar whose second member header is damaged: tarfile alone would stop there.
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for member in ("a/one.txt", "a/two.txt", "a/three.txt"):
            info = tarfile.TarInfo(member)
            info.size = len(text)
            archive.addfile(info, io.BytesIO(text))
    data = bytearray(buffer.getvalue())
    second_header = 512 + -(-len(text) // 512) * 512
    data[second_header + 100] ^= 0xFF
    (folder / "header-corpus.tar").write_bytes(bytes(data))
    made["header-corpus.tar"] = folder / "header-corpus.tar"
    return made


@pytest.mark.parametrize("command", ["tokenize", "vocab", "train-sentiment"])
def test_damaged_archives_are_refused(cli, tmp_path, command):
    """A damaged compressed file or archive is refused by name, never read as a shorter one."""
    for name, path in _damaged_archives(tmp_path).items():
        if command == "train-sentiment" and not ("reviews" in name or "aclImdb" in name):
            continue
        if command != "train-sentiment" and name.endswith("reviews.zip"):
            continue  # a zip holding only a .csv holds no text file for the corpus commands
        args = {"tokenize": ["tokenize", str(path)],
                "vocab": ["vocab", "build", str(path), "-o", str(tmp_path / "v.tsv"), "--force"],
                "train-sentiment": ["train-sentiment", str(path), "--epochs", "1", "--hidden", "8", "--embed-dim", "8",
                                    "--max-minutes", "0.1", "-o", str(tmp_path / "sa"), "--force"]}[command]
        result = cli(*args)
        refused(result, (command, name), "damaged")
        assert str(path) in result.stderr


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
    "wordlm": [["generate", "--model", "{m}", "--len", "5"], ["eval-lm", "--model", "{m}", "{corpus}"]],
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


@pytest.mark.parametrize("command", ["train-w2v", "train-charlm", "train-lm", "train-sentiment"])
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
