"""``threekcal import | export``: bring existing comments in, take filtered comments out, in bounded memory.

Exit codes: 0 done (bad rows skipped are reported on stderr), 1 another writer stored the same comments
at the same time (MariaDB only; run it again), 2 refused (missing file, unknown format,
missing column, bad URL, or bad rows with ``--strict``): nothing stored.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from threekcal.cli.app import app
from threekcal.settings import get_settings

if TYPE_CHECKING:
    from threekcal.db.models import Comment

console = Console(stderr=True)
EXIT_REFUSED = 2


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_REFUSED)


def _progress(unit: str) -> Progress:
    amount = DownloadColumn() if unit == "bytes" else MofNCompleteColumn()
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        amount,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


@app.command("import")
def import_command(
    file: Annotated[
        Path | None, typer.Argument(help="A CSV (with a header line) or JSON Lines file of comments.")
    ] = None,
    from_table: Annotated[
        str | None,
        typer.Option(
            "--from-table",
            help="Copy the original system's table instead: mysql+pymysql://USER:PASSWORD@HOST:3306/DB.TABLE",
        ),
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv or jsonl (default: from the file's name).")
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Refuse the whole import (store nothing) if any row is bad.")
    ] = False,
    defer_indexes: Annotated[
        str | None,
        typer.Option(
            "--defer-indexes",
            help="SQLite: auto, always or never store the rows with the secondary indexes set aside and "
            "build them again at the end (default THREEKCAL_IMPORT_DEFER_INDEXES: auto, when the import "
            "is at least THREEKCAL_IMPORT_DEFER_INDEXES_MIN_ROWS rows and as large as the table).",
        ),
    ] = None,
) -> None:
    """Import comments (columns comments, request_user, request_time; optional prediction_result,
    prediction_score, prediction_time, label, remark) into THREEKCAL_DATABASE_URL.

    Every row is checked with the API's rules; bad rows are reported with their line number and skipped
    (or, with --strict, refuse the import). Running it twice on the same data stores nothing new."""
    from threekcal.db import importing
    from threekcal.db.session import engine_for

    settings = get_settings()
    if (file is None) == (from_table is None):
        raise _fail("give either a FILE or --from-table URL")
    if fmt is not None and fmt not in ("csv", "jsonl"):
        raise _fail(f"unknown format {fmt!r}: csv or jsonl")
    defer = defer_indexes or settings.import_defer_indexes
    if defer not in ("auto", "always", "never"):
        raise _fail(f"unknown --defer-indexes {defer!r}: auto, always or never")
    try:
        if from_table is not None:
            source: importing.Source = importing.table_source(from_table)
        else:
            assert file is not None
            source = importing.file_source(file, fmt)  # type: ignore[arg-type]
    except importing.ImportRefusedError as error:
        raise _fail(str(error)) from None

    def report_bad(bad: importing.BadRow) -> None:
        console.print(f"[yellow]{escape(str(bad))}[/yellow]", highlight=False, soft_wrap=True)

    engine = engine_for(settings.database_url)
    try:
        with _progress(source.unit) as progress:
            task = progress.add_task(f"import {source.describe()}", total=source.total)
            report = importing.import_comments(
                engine,
                source,
                strict=strict,
                chunk_rows=settings.import_chunk_rows,
                sqlite_cache_mib=settings.import_sqlite_cache_mib,
                defer_indexes=defer,  # type: ignore[arg-type]
                defer_indexes_min_rows=settings.import_defer_indexes_min_rows,
                on_stage=lambda stage: progress.console.print(escape(stage), highlight=False),
                on_bad=report_bad,
                progress=lambda position: progress.update(task, completed=position),
            )
    except importing.ImportRefusedError as error:
        raise _fail(str(error)) from None
    except importing.ImportRaceError as error:
        console.print(f"[red]error:[/red] {escape(str(error))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    finally:
        if isinstance(source, importing.TableSource):
            source.close()
    Console().print(report.summary(), highlight=False)


@app.command("export")
def export_command(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or jsonl.")] = "csv",
    request_user: Annotated[str | None, typer.Option("--request-user")] = None,
    labeled: Annotated[bool | None, typer.Option("--labeled/--unlabeled", show_default=False)] = None,
    predicted: Annotated[bool | None, typer.Option("--predicted/--unpredicted", show_default=False)] = None,
    prediction_result: Annotated[str | None, typer.Option("--prediction-result")] = None,
    label: Annotated[str | None, typer.Option("--label")] = None,
    q: Annotated[str | None, typer.Option("--q", help="Text contains.")] = None,
) -> None:
    """Write the matching comments (oldest first) as CSV, formula cells neutralised as in the API's
    export, or as JSON Lines; read in keyset batches of THREEKCAL_EXPORT_CHUNK_ROWS rows."""
    from sqlalchemy.orm import Session

    from threekcal.api.routes.export import csv_lines, jsonl_lines
    from threekcal.db import importing, queries
    from threekcal.db.session import engine_for
    from threekcal.validation import InvalidInput, clean_label

    settings = get_settings()
    if fmt not in ("csv", "jsonl"):
        raise _fail(f"unknown format {fmt!r}: csv or jsonl")
    try:
        flt = queries.CommentFilter(
            request_user=request_user,
            labeled=labeled,
            predicted=predicted,
            prediction_result=clean_label(prediction_result, "--prediction-result"),
            label=clean_label(label, "--label"),
            q=q,
        )
    except InvalidInput as error:
        raise _fail(str(error)) from None
    count = 0
    with Session(engine_for(settings.database_url)) as session:

        def counted() -> Iterator[Comment]:
            nonlocal count
            for row in queries.iter_comments(
                session, flt, sort="oldest", batch_size=settings.export_chunk_rows
            ):
                count += 1
                yield row

        lines = csv_lines(counted()) if fmt == "csv" else jsonl_lines(counted())
        if output is None:
            for piece in lines:
                sys.stdout.write(piece)
        else:
            with open(output, "w", encoding="utf-8", newline="") as out:
                out.writelines(lines)
    console.print(f"{importing.number_of(count, 'comment')} exported", highlight=False)
