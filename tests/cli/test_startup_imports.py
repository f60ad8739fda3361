"""Commands import only what they use: each runs as a real process and reports the heavy modules
it ended up with. Word-vector queries, listings, tokenizing and help run on numpy alone; torch
is for the commands that train or score many inputs: one line of ``sentiment`` and ``generate``
from a char LM run their networks in numpy (the numpy scorer and sampler), and every command
leaves out what it does not need (jieba for English text, nltk's full package with scipy and
scikit-learn, numba, torch's compiler)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

#: Modules that cost a noticeable part of a second (or ~100 MB) each to import.
HEAVY = ("torch", "torch._dynamo", "numba", "jieba", "nltk", "scipy", "sklearn", "matplotlib", "gensim", "numpy")

PROBE = """
import atexit, json, sys
def report(path=sys.argv[1]):
    with open(path, "w") as out:
        json.dump(sorted(m for m in {heavy!r} if m in sys.modules), out)
atexit.register(report)
sys.argv = ["textlab", *sys.argv[2:]]
from textlab.cli import main
main()
""".format(heavy=HEAVY)


def imported(tmp_path: Path, *args: str, stdin: str = "") -> set[str]:
    report = tmp_path / "imported.json"
    result = subprocess.run([sys.executable, "-c", PROBE, str(report), *args], input=stdin, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "internal error" not in result.stderr
    return set(json.loads(report.read_text()))


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text("The cat sat on the mat.\nThe dog sat on the log.\n", encoding="utf-8")
    return path


NOTHING_HEAVY = set()
NUMPY = {"numpy"}


@pytest.mark.parametrize("args, allowed", [
    (["--help"], NOTHING_HEAVY),
    (["--version"], NOTHING_HEAVY),
    (["datasets"], NOTHING_HEAVY),
    (["models"], NUMPY),
    (["neighbors", "king", "--model", "shipped:en"], NUMPY),
    (["analogy", "king", "man", "woman", "--model", "shipped:en"], NUMPY),
    (["similarity", "king", "queen", "--model", "shipped:en"], NUMPY),
    (["neighbors", "宝玉", "--model", "shipped:zh"], NUMPY),
])
def test_queries_and_listings_run_without_heavy_imports(tmp_path, args, allowed):
    assert imported(tmp_path, *args) <= allowed


def test_export_and_import_of_vectors_need_no_torch(tmp_path):
    vectors = tmp_path / "vectors.txt"
    assert imported(tmp_path, "export-w2v", str(vectors), "--model", "shipped:en") <= NUMPY
    assert imported(tmp_path, "import-w2v", str(vectors), "-o", str(tmp_path / "imported")) <= NUMPY
    assert imported(tmp_path, "neighbors", "king", "--model", str(tmp_path / "imported")) <= NUMPY


def test_evaluation_uses_scipy_for_rank_correlation_only(tmp_path):
    assert imported(tmp_path, "eval-w2v", "--model", "shipped:en", "--json") <= NUMPY | {"scipy"}


def test_plot_imports_its_plotting_libraries_but_not_torch(tmp_path):
    got = imported(tmp_path, "plot-w2v", "--model", "shipped:en", "--top", "30", "--method", "pca",
                   "-o", str(tmp_path / "words.png"))
    assert "matplotlib" in got and "torch" not in got and "numba" not in got


def test_english_tokenizing_loads_nltks_tokenizer_not_all_of_nltk(tmp_path, corpus):
    assert imported(tmp_path, "tokenize", str(corpus), "--lang", "en") <= NUMPY
    assert imported(tmp_path, "vocab", "build", str(corpus), "--lang", "en", "-o", str(tmp_path / "v.tsv")) <= NUMPY


def test_chinese_tokenizing_loads_jieba(tmp_path):
    assert imported(tmp_path, "tokenize", "--lang", "zh", stdin="我来到北京清华大学\n") - NUMPY == {"jieba"}


def test_one_english_review_is_scored_in_numpy_without_torch_jieba_or_all_of_nltk(tmp_path):
    assert imported(tmp_path, "sentiment", stdin="A wonderful, moving film.\n") == NUMPY
    assert imported(tmp_path, "sentiment", "Great fun.", "Dull.", "--model", "shipped:en") == NUMPY


def test_a_chinese_review_loads_jieba_too(tmp_path):
    assert imported(tmp_path, "sentiment", stdin="这家酒店服务很好\n") == NUMPY | {"jieba"}


def test_a_long_input_is_scored_by_torch(tmp_path):
    many = "".join(f"review number {i} was fine\n" for i in range(600))  # more than one batch of 256
    got = imported(tmp_path, "sentiment", stdin=many)
    assert "torch" in got and not got & {"jieba", "nltk", "scipy", "sklearn", "numba", "torch._dynamo"}
    # one batch, but past the size where torch's import pays for itself (LIGHT_MAX_LINES)
    assert "torch" in imported(tmp_path, "sentiment", "--batch-size", "1000", stdin=many)


def test_generate_from_a_char_lm_runs_in_numpy(tmp_path):
    assert imported(tmp_path, "generate", "--seed", "p", "--len", "50") == NUMPY
