"""Commands: datasets, download, models (list, rm, mv)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from textlab.cli.app import app, echo_json, echo_table
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
    from rich.text import Text

    from textlab.data.registry import registry

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
        table.add_row(Text(row["name"]), _size(row["size"]), row["status"], Text(row["source"]), Text(row["license"]))
    echo_table(table)


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
    from textlab.runtime.output import say

    dataset = get_dataset(name)
    if dataset is None:
        raise UsageError(f"unknown dataset {name!r}; known: {', '.join(sorted(registry()))}")
    if dataset.shipped and dataset.local_path() is not None and not force:
        say(f"{name} ships with textlab: {dataset.local_path()}")
        return
    if source is not None:
        if dataset.cache_path.is_file() and not force:
            raise UsageError(f"{name} is already in the cache ({dataset.cache_path}); pass --force to replace it")
        path = copy_into_cache(dataset, source, force=force)
    else:
        path = download_dataset(dataset, force=force)
    say(f"{name}: {path}")
    if extract and (is_tar(path) or is_zip(path)):
        target = path.parent / (name + "-extracted")
        safe_extract(path, target)
        say(f"extracted into {target}")


models_app = typer.Typer(
    help="List, remove and rename models. With no command: the table of models, yours and the shipped ones.",
    rich_markup_mode="rich", context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(models_app, name="models")


@models_app.callback(invoke_without_command=True)
def models(
    ctx: typer.Context,
    kind: Annotated[Optional[str], typer.Option("--kind", help="Only this kind: word2vec, charlm, wordlm, sentiment.")] = None,
    json_output: JsonOutput = False,
) -> None:
    """List models, yours (newest first) and the shipped ones (shipped:NAME): name, kind, language, key figure.

    Example: textlab models --kind word2vec
    """
    if ctx.invoked_subcommand is not None:
        return
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from textlab.errors import UsageError
    from textlab.store.cards import KINDS
    from textlab.store.catalogue import key_metric, model_catalogue
    from textlab.store.places import models_dir

    if kind is not None and kind not in KINDS:
        raise UsageError(f"unknown --kind {kind!r}; use one of: {', '.join(KINDS)}")
    found = model_catalogue(kind)
    if json_output:
        echo_json([{"name": m.name, "kind": m.card.kind, "shipped": m.shipped, "path": str(m.path),
                    "lang": _language(m), "created": m.card.created, "summary": key_metric(m.card),
                    "metrics": m.card.metrics} for m in found])
        return
    if not found:
        sys.stdout.write(f"no models yet in {models_dir()}\n")
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 1))
    table.add_column("name", no_wrap=True, min_width=min(max(len(m.name) for m in found), 40))
    table.add_column("kind", no_wrap=True)
    table.add_column("lang", no_wrap=True)
    table.add_column("key figure")
    for m in found:
        table.add_row(Text(m.name), m.card.kind, _language(m) or "-", Text(key_metric(m.card)))
    echo_table(table)
    sys.stdout.write(f"yours (newest first) are in {models_dir()}\n")


def _language(model) -> str | None:
    """``en``/``zh``/...: the card's, or told from the vocabulary of word vectors trained with --lang auto."""
    if model.card.kind == "word2vec":
        from textlab.w2v.keyed_vectors import model_language

        return model_language(model.path, model.card)
    lang = model.card.config.get("lang")
    return lang if isinstance(lang, str) and lang else None


@models_app.command("rm")
def models_rm(name: Annotated[str, typer.Argument(help="A model of yours, as `textlab models` lists it.")]) -> None:
    """Remove one of your models (shipped models cannot be removed).

    Example: textlab models rm w2v-text8-skipgram
    """
    from textlab.reservation import check_not_reserved
    from textlab.runtime.output import say
    from textlab.store.catalogue import remove_model

    path = remove_model(name, check=check_not_reserved)
    say(f"removed {name} ({path})")


@models_app.command("mv")
def models_mv(
    old: Annotated[str, typer.Argument(help="A model of yours.")],
    new: Annotated[str, typer.Argument(help="Its new name (must not exist).")],
) -> None:
    """Rename one of your models.

    Example: textlab models mv w2v-text8-skipgram text8
    """
    from textlab.reservation import check_not_reserved
    from textlab.runtime.output import say
    from textlab.store.catalogue import rename_model

    path = rename_model(old, new, check=check_not_reserved)
    say(f"renamed {old} to {new} ({path})")
