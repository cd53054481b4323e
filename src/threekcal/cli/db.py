"""``threekcal db upgrade|current``."""

from __future__ import annotations

import typer
from rich.console import Console

from threekcal.cli.app import db_app
from threekcal.settings import get_settings

console = Console()


@db_app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply migrations to THREEKCAL_DATABASE_URL (creates the SQLite file if missing)."""
    from threekcal.db import migrate

    url = get_settings().database_url
    migrate.upgrade(url, revision)
    console.print(f"[green]database at revision {migrate.current_revision_for(url)}[/green]")


@db_app.command("current")
def current() -> None:
    """Show the database's schema revision and the newest one available."""
    from threekcal.db import migrate

    url = get_settings().database_url
    console.print(f"current: {migrate.current_revision_for(url)}  head: {migrate.head_revision()}")
