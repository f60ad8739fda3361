"""Commands: datasets, download, models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from textlab.cli.app import app, echo_json
from textlab.cli.options import Force, JsonOutput


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    for factor, unit in ((1 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "kB")):
        if n >= factor:
            return f"{n / factor:.1f} {unit}"
    return f"{n} B"


@app.command()
def datasets(json_output: JsonOutput = False) -> None:
    """List the registered datasets: name, size, source, licence, and whether they are local.

    Example: textlab datasets
    """
    from rich.table import Table

    from textlab.data.registry import registry
    from textlab.runtime import console

    rows = []
    for ds in registry().values():
        local = ds.local_path()
        state = "shipped" if ds.shipped and local else ("cached" if local else "not downloaded")
        size = ds.size if ds.size is not None else (local.stat().st_size if local else None)
        rows.append({"name": ds.name, "size": size, "source": ds.url or "shipped with textlab",
                     "license": ds.license, "status": state, "path": str(local) if local else None,
                     "description": ds.description})
    if json_output:
        echo_json(rows)
        return
    table = Table(title="textlab datasets")
    for column in ("name", "size", "status", "source", "licence"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row["name"], _size(row["size"]), row["status"], row["source"], row["license"])
    console.print(table)


@app.command()
def download(
    name: Annotated[str, typer.Argument(help="Dataset name (see `textlab datasets`).")],
    force: Force = False,
    extract: Annotated[bool, typer.Option("--extract", help="Also unpack an archive next to it (safely).")] = False,
    source: Annotated[Optional[Path], typer.Option("--from", help="Copy this local file into the cache instead of downloading (for machines without network access); its size and SHA-256 are checked as a download's are.")] = None,
) -> None:
    """Download a dataset into the cache (resumable, size and SHA-256 checked).

    Example: textlab download text8

    Offline: textlab download text8 --from ~/Downloads/text8.zip
    """
    from textlab.data.archive import is_tar, is_zip, safe_extract
    from textlab.data.download import copy_into_cache, download_dataset
    from textlab.data.registry import get_dataset, registry
    from textlab.errors import UsageError
    from textlab.runtime import console

    dataset = get_dataset(name)
    if dataset is None:
        raise UsageError(f"unknown dataset {name!r}; known: {', '.join(sorted(registry()))}")
    if dataset.shipped and dataset.local_path() is not None and not force:
        console.print(f"{name} ships with textlab: {dataset.local_path()}")
        return
    if source is not None:
        if dataset.cache_path.is_file() and not force:
            raise UsageError(f"{name} is already in the cache ({dataset.cache_path}); pass --force to replace it")
        path = copy_into_cache(dataset, source, force=force)
    else:
        path = download_dataset(dataset, force=force)
    console.print(f"{name}: {path}")
    if extract and (is_tar(path) or is_zip(path)):
        target = path.parent / (name + "-extracted")
        safe_extract(path, target)
        console.print(f"extracted into {target}")


@app.command()
def models(
    kind: Annotated[Optional[str], typer.Option("--kind", help="Only this kind: word2vec, charlm, sentiment.")] = None,
    json_output: JsonOutput = False,
) -> None:
    """List saved models: kind, name, created, metrics.

    Example: textlab models --kind word2vec
    """
    from rich.table import Table

    from textlab.runtime import console
    from textlab.store import list_models, models_dir

    found = [(p, c) for p, c in list_models() if kind is None or c.kind == kind]
    if json_output:
        echo_json([{"name": c.name, "kind": c.kind, "path": str(p), "created": c.created, "metrics": c.metrics} for p, c in found])
        return
    if not found:
        console.print(f"no models yet in {models_dir()}")
        return
    table = Table(title=f"models in {models_dir()}")
    for column in ("kind", "name", "created", "metrics"):
        table.add_column(column, overflow="fold")
    for path, card in found:
        metrics = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in card.metrics.items())
        table.add_row(card.kind, path.name, card.created, metrics)
    console.print(table)
