"""The dataset registry (``corpora/datasets.json``): names users type, where the data comes
from, how big it is and how to check it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from textlab.store.places import textlab_home


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    url: str | None
    filename: str
    size: int | None
    sha256: str | None
    license: str
    kind: str = "text"  # "text" or "aclimdb"
    shipped: str | None = None
    member: str | None = None
    member_sha256: str | None = None

    @property
    def cache_path(self) -> Path:
        return datasets_dir() / self.filename

    def shipped_path(self) -> Path | None:
        if not self.shipped:
            return None
        return Path(str(resources.files("textlab.corpora").joinpath(self.shipped)))

    def local_path(self) -> Path | None:
        """Where the data already is on this machine (shipped or cached), if anywhere."""
        shipped = self.shipped_path()
        if shipped is not None and shipped.is_file():
            return shipped
        if self.cache_path.is_file():
            return self.cache_path
        return None


def datasets_dir() -> Path:
    return textlab_home() / "datasets"


@lru_cache(maxsize=1)
def registry() -> dict[str, Dataset]:
    raw = json.loads(resources.files("textlab.corpora").joinpath("datasets.json").read_text(encoding="utf-8"))
    return {name: Dataset(name=name, **entry) for name, entry in raw.items()}


def get_dataset(name: str) -> Dataset | None:
    """The registered dataset ``name`` (case-insensitive, as `textlab datasets` lists them)."""
    datasets = registry()
    if name in datasets:
        return datasets[name]
    folded = {key.lower(): dataset for key, dataset in datasets.items()}
    return folded.get(name.lower())
