"""The wheel must contain every package in the tree (pyproject lists them explicitly)."""

from __future__ import annotations

from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, from PyPI (a test extra there)
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "textlab").rglob("__init__.py")}
    found.add("textlab.corpora")
    assert found == listed


def test_shipped_corpora_are_package_data():
    from importlib import resources

    files = {p.name for p in resources.files("textlab.corpora").iterdir()}
    assert {"datasets.json", "tinyshakespeare.txt", "hongloumeng.txt.gz"} <= files
