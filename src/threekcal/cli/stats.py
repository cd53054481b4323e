"""``threekcal stats verify|rebuild``: the statistics aggregates against a recomputation from the rows."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from threekcal.cli.app import app
from threekcal.settings import get_settings

console = Console()
stats_app = typer.Typer(help="Statistics aggregates: verify, rebuild.", no_args_is_help=True)
app.add_typer(stats_app, name="stats")

MAX_SHOWN = 50  # differences printed; the count says how many there are in all
ChunkOption = typer.Option(20_000, min=1, max=1_000_000, help="Comments read per chunk (bounds memory).")


def _bar(description: str) -> Progress:
    return Progress(
        TextColumn(f"[bold]{description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console,
    )  # fmt: skip


@stats_app.command("verify")
def verify(chunk: int = ChunkOption) -> None:
    """Recompute every count from the comments and compare it with the aggregate tables.

    Prints each difference; exit status 1 if there is any, 0 if none."""
    from threekcal.db import aggregates_check
    from threekcal.db.session import engine_for

    engine = engine_for(get_settings().database_url)
    with _bar("recomputing") as bar, engine.connect() as connection:
        task = bar.add_task("recomputing", total=None)
        expected = aggregates_check.recompute(
            connection,
            chunk=chunk,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
        found = aggregates_check.differences(connection, expected)
    for difference in found[:MAX_SHOWN]:
        console.print(difference.describe(), markup=False, highlight=False)
    if found:
        more = f" (first {MAX_SHOWN} shown)" if len(found) > MAX_SHOWN else ""
        console.print(f"[red]{len(found)} aggregate cells differ from the rows{more}[/red]")
        raise typer.Exit(1)
    console.print("[green]aggregates equal a recomputation from the rows[/green]")


@stats_app.command("rebuild")
def rebuild(chunk: int = ChunkOption) -> None:
    """Replace the aggregate tables with a recomputation from the comments (after manual changes to the
    database). Stop the API and the worker first: writes made meanwhile may be miscounted."""
    from threekcal.db import aggregates_check
    from threekcal.db.session import engine_for

    engine = engine_for(get_settings().database_url)
    with _bar("rebuilding") as bar, engine.begin() as connection:
        task = bar.add_task("rebuilding", total=None)
        aggregates_check.rebuild(
            connection,
            chunk=chunk,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    console.print("[green]aggregates rebuilt from the rows[/green]")
