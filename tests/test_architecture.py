"""The layers are a contract (``[tool.importlinter]`` in pyproject.toml): the CLI above the
demo above the model kinds (independent of each other) above text and data above the
foundation modules; nothing imports the CLI; no import circles. A new upward arrow fails here.
And modules stay small enough to read."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# installed with the test extra, beside this Python (a virtual environment) or on PATH
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
if not LINT_IMPORTS.exists():
    LINT_IMPORTS = Path(shutil.which("lint-imports") or LINT_IMPORTS)


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` on the package under ``root`` (the contracts of its pyproject.toml)."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_layer_contracts_are_kept():
    run = lint_imports(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "4 kept, 0 broken" in run.stdout, run.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    # the same tree with one arrow from the text layer up to a trainer, inside a function (lazy
    # imports count), and one circle between two runtime modules
    shutil.copytree(ROOT / "textlab", tmp_path / "textlab", ignore=shutil.ignore_patterns("pretrained", "__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with open(tmp_path / "textlab" / "text" / "vocab.py", "a", encoding="utf-8") as handle:
        handle.write("\n\ndef _upward():\n    from textlab.w2v.train import train  # noqa: F401\n")
    with open(tmp_path / "textlab" / "runtime" / "output.py", "a", encoding="utf-8") as handle:
        handle.write("\n\ndef _circle():\n    from textlab.runtime.progress import ProgressBar  # noqa: F401\n")
    run = lint_imports(tmp_path)
    assert run.returncode != 0
    assert "textlab.text.vocab -> textlab.w2v.train" in run.stdout, run.stdout
    # the layers, the kinds' independence (sentiment reaches w2v through text) and the circles
    assert "Contracts: 1 kept, 3 broken." in run.stdout, run.stdout
    assert "- .progress -> .output (1 import)" in run.stdout, run.stdout


def test_no_module_is_too_long_to_read():
    lengths = {str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
               for path in (ROOT / "textlab").rglob("*.py")}
    assert {path: n for path, n in lengths.items() if n > 400} == {}
    # what was split by concern stays split: runtime, the store, sentiment training's stages
    stages = ("train", "run_plan", "prepare", "initialise", "state", "ngram_phase", "neural_phase", "mix", "finish")
    split = ("textlab/runtime/", "textlab/store/", *(f"textlab/sentiment/{stage}.py" for stage in stages))
    assert {path: n for path, n in lengths.items() if path.startswith(split) and n > 300} == {}


def test_the_old_flat_names_load_on_first_use_only():
    script = """
import sys
import textlab.runtime, textlab.store
heavy = {"numpy", "torch", "rich", "safetensors"}
assert not [m for m in sys.modules if m.split(".")[0] in heavy or m.startswith(("textlab.runtime.", "textlab.store."))]
from textlab.runtime import ProgressBar, pick_device, say
from textlab.store import ModelChoice, read_card, shipped_root
from textlab.runtime.progress import ProgressBar as progress_bar
assert ProgressBar is progress_bar and "read_card" in dir(textlab.store)
try:
    textlab.store.no_such_name
except AttributeError:
    print("ok")
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout == "ok\n", run.stderr
