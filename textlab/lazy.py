"""Names a package re-exports from its submodules, imported on first use (PEP 562), so that
importing the package itself imports nothing: ``__getattr__, __dir__ = lazy_exports(__name__,
{"submodule": ("name", ...)})`` in its ``__init__.py``."""

from __future__ import annotations

import importlib
import sys
from typing import Callable


def lazy_exports(package: str, homes: dict[str, tuple[str, ...]]) -> tuple[Callable, Callable]:
    """The module-level ``__getattr__`` and ``__dir__`` of ``package`` for the names in ``homes``
    (submodule name -> the names it defines)."""
    where = {name: module for module, names in homes.items() for name in names}

    def __getattr__(name: str):
        if name in where:
            return getattr(importlib.import_module(f"{package}.{where[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted([*vars(sys.modules[package]), *where])

    return __getattr__, __dir__
