"""Command: demo (the newcomer's tour)."""

from __future__ import annotations

from typing import Annotated

import typer

from textlab.cli.app import app
from textlab.cli.options import Device, Seed


@app.command()
def demo(
    quick: Annotated[bool, typer.Option("--quick", help="A shorter tour (under 2 minutes on 2 CPU cores).")] = False,
    device: Device = "auto",
    seed: Seed = 1,
) -> None:
    """A tour of everything textlab does, on data that ships with it (a few minutes on a CPU).

    Example: textlab demo --quick
    """
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    from textlab.demo import DemoSettings, run_demo
    from textlab.runtime.output import console

    def show(result) -> None:
        body = "\n".join(result.lines)
        title = Text.assemble((f"✓ {result.name}", "bold green"), f" — {result.figure}")  # data: no markup
        console.print(Panel(Text(body or result.figure), title=title,
                            title_align="left", subtitle=f"{result.seconds:.1f}s", subtitle_align="right"))

    results = run_demo(DemoSettings(quick=quick, device=device, seed=seed), on_result=show)
    table = Table(title="textlab demo summary")
    for column in ("step", "time", "key figure"):
        table.add_column(column)
    for result in results:
        table.add_row(Text(result.name), f"{result.seconds:.1f}s", Text(result.figure))
    table.add_row("total", f"{sum(r.seconds for r in results):.1f}s", "")
    console.print(table)
