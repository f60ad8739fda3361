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


def test_each_shipped_model_stays_within_30_mb():
    """Issue 21's rule for what the package carries: each shipped model at most 30 MB."""
    models = [d for d in (ROOT / "textlab" / "pretrained").glob("*/*") if (d / "config.json").is_file()]
    assert len(models) >= 6
    for model in models:
        size = sum(f.stat().st_size for f in model.iterdir() if f.is_file())
        assert size <= 30_000_000, f"{model.relative_to(ROOT)}: {size / 1e6:.1f} MB"
