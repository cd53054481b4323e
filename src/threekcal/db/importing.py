"""Bulk import of existing comments: a CSV or JSON Lines file, or the original system's MariaDB table.

Every row is checked with the API's rules (``threekcal.validation.clean_comment_record``); a bad row is
reported with its line number and skipped, or, when strict, refuses the whole import before anything is
stored (a first pass reads the source without storing). Rows are read as a stream and stored in chunks,
one transaction per chunk, so memory stays bounded whatever the size of the source; each chunk's new
comments are counted in the statistics aggregates in its transaction (a few statements in the database:
``aggregates.add_comment_range`` on SQLite, ``aggregates.add_comment_receipts`` on MariaDB). The next
chunk is read and checked meanwhile (db/import_sources.py), in a child process for a large file.

Running an import twice stores nothing new: each row's receipt is derived from its content (user,
request time, text): the request time's hour, then a hash of the three. The table's unique receipt
constraint decides: on SQLite ``INSERT OR IGNORE`` skips the comments stored before, whoever stored them,
and the chunk counts the rows it did insert (no race is possible: SQLite has one writer at a time). On
MariaDB a chunk looks its receipts up first, inserts only the new ones (``INSERT IGNORE``) and counts
them by those receipts; a chunk whose rows another writer stored between the look-up and the INSERT is rolled
back (its counts would be wrong). The same comment twice in one source is stored once.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.process
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine, func, select
from sqlalchemy.engine import Connection

from threekcal.db import aggregates, deferred_indexes
from threekcal.db.import_sources import (
    CHECKER_WAIT_S,
    END,
    STORED_COLUMNS,
    BadRow,
    CheckedChunk,
    FileSource,
    ImportRefusedError,
    Source,
    StoredRow,
    TableSource,
    check,
    checked_rows,
    file_source,
    receipt_for,
    stored_values,
    table_source,
)
from threekcal.db.models import Comment

# The sources' names, for the callers of this module (the CLI, tests, benchmarks).
__all__ = [
    "BadRow",
    "FileSource",
    "ImportRaceError",
    "ImportRefusedError",
    "ImportReport",
    "Source",
    "TableSource",
    "file_source",
    "import_comments",
    "number_of",
    "receipt_for",
    "store_chunk",
    "stored_values",
    "table_source",
]

DeferIndexes = Literal["auto", "always", "never"]

RECEIPT_LOOKUP_BATCH = 5000  # receipts per IN (...) query: well under SQLite's 32766 parameters
comments = Comment.__table__

# In a chunk's transaction: before its insert, the receipts of the comments it is about to store
# (``before_insert``); after its insert, how many comments it stored (``after_chunk``).
ChunkHook = Callable[[Connection, Sequence[str]], None]
AfterChunk = Callable[[Connection, int], None]
Progress = Callable[[int], None]  # the source's position: bytes read of a file, rows read of a table


@dataclass
class ImportReport:
    rows: int = 0  # rows read (good and bad)
    stored: int = 0  # newly stored comments
    already_present: int = 0  # good rows whose comment was stored before (or earlier in this source)
    bad: int = 0  # rows refused by the rules

    def summary(self) -> str:
        return (
            f"{number_of(self.rows, 'row')} read: {number_of(self.stored, 'comment')} stored, "
            f"{self.already_present} already present, {number_of(self.bad, 'bad row')} skipped"
        )


def number_of(number: int, noun: str) -> str:
    """The number with its noun, singular for one: "1 comment", "2 comments" (the CLI's summaries)."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _insert_sql(connection: Connection) -> str:
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    verb = "INSERT OR IGNORE" if connection.dialect.name == "sqlite" else "INSERT IGNORE"
    placeholders = ", ".join([marker] * len(STORED_COLUMNS))
    return f"{verb} INTO comments ({', '.join(STORED_COLUMNS)}) VALUES ({placeholders})"


class ImportRaceError(RuntimeError):
    """Another writer stored some of a chunk's comments while it was being stored; the chunk was rolled
    back (earlier chunks stay, and running the import again finishes it)."""


def _existing_receipts(connection: Connection, receipts: Sequence[str]) -> set[str]:
    # Driver-level statements: SQLAlchemy would compile a bound parameter per receipt (~4 µs a row).
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    found: set[str] = set()
    for start in range(0, len(receipts), RECEIPT_LOOKUP_BATCH):
        batch = tuple(receipts[start : start + RECEIPT_LOOKUP_BATCH])
        query = f"SELECT receipt FROM comments WHERE receipt IN ({', '.join([marker] * len(batch))})"
        found.update(row[0] for row in connection.exec_driver_sql(query, batch))
    return found


def store_chunk(
    connection: Connection, chunk: Sequence[StoredRow], before_insert: ChunkHook | None = None
) -> int:
    """Insert the comments of ``chunk`` (rows of stored_values) not stored yet and count them in the
    statistics aggregates, in the caller's transaction; how many it stored.
    ``before_insert`` is called with the receipts it is about to insert, right before the INSERT (where
    another writer may come in)."""
    unique = {values[0]: values for values in reversed(chunk)}  # the first one wins
    if connection.dialect.name == "sqlite":
        return _store_sqlite(connection, [unique[receipt] for receipt in sorted(unique)], before_insert)
    existing = _existing_receipts(connection, list(unique))
    # In receipt order the unique index on receipt is written in one sweep instead of at random places.
    new = [unique[receipt] for receipt in sorted(unique) if receipt not in existing]
    if not new:
        return 0
    if before_insert is not None:
        before_insert(connection, [values[0] for values in new])
    result = connection.exec_driver_sql(_insert_sql(connection), new)
    if result.rowcount != len(new):
        raise ImportRaceError(
            f"another writer stored {len(new) - result.rowcount} of these comments at the same time: "
            "nothing of this chunk was stored; run the import again to finish it"
        )
    aggregates.add_comment_receipts(connection, [values[0] for values in new])  # after the rows
    return len(new)


def _store_sqlite(
    connection: Connection, rows: list[tuple[Any, ...]], before_insert: ChunkHook | None
) -> int:
    """SQLite: no look-up first; the INSERT skips the comments already stored (by anyone, up to the moment
    it runs), so there is no race. The chunk holds SQLite's write lock from its INSERT to its commit: its
    new rows got the numbers right after the largest one before it, one after the other, and the
    database counts them there (aggregates.add_comment_range)."""
    if before_insert is not None:
        before_insert(connection, [values[0] for values in rows])
    stored = connection.exec_driver_sql(_insert_sql(connection), rows).rowcount
    if stored <= 0:
        return 0
    last = int(connection.execute(select(func.max(comments.c.num))).scalar_one())
    aggregates.add_comment_range(connection, last - stored + 1, last)
    return stored


# A checker process costs up to a few tenths of a second to start (a new Python that imports the rules and,
# again, the program's main module: 0.06 s under a script that imports nothing else, 0.3 s under one that
# imports SQLAlchemy): below this size a file is checked in a thread (~100,000 rows of a typical CSV).
CHECKER_PROCESS_MIN_BYTES = 10 * 1024 * 1024
Checker = Literal["process", "thread"]


class _CheckedChunks:
    """The chunks of ``checked_chunks``, checked one chunk ahead of the writer in a child process (a large
    file) or a thread (a small file, a table: its connection stays in this process)."""

    def __init__(self, source: Source, chunk_rows: int, checker: Checker | None = None) -> None:
        if checker is None:
            large = isinstance(source, FileSource) and (source.total or 0) >= CHECKER_PROCESS_MIN_BYTES
            checker = "process" if large else "thread"
        if checker == "process" and not isinstance(source, FileSource):
            raise ValueError("only a file is checked in a separate process")
        if checker == "process":
            context = multiprocessing.get_context("spawn")  # fork is unsafe with threads (the progress bar)
            self.queue: Any = context.Queue(maxsize=1)
            self.stop: Any = context.Event()
            self.worker: Any = context.Process(
                target=check, args=(source, chunk_rows, self.queue, self.stop), daemon=True
            )
        else:
            self.queue = queue.Queue(maxsize=1)
            self.stop = threading.Event()
            self.worker = threading.Thread(
                target=check, args=(source, chunk_rows, self.queue, self.stop), daemon=True
            )
        self.source = source

    def __enter__(self) -> Iterator[CheckedChunk]:
        self.worker.start()
        return self._chunks()

    def _chunks(self) -> Iterator[CheckedChunk]:
        while True:
            item = self.queue.get()
            if item == END:
                return
            if isinstance(item, Exception):
                raise item
            self.source.position = item.position  # the child process read it
            yield item

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.worker.join(timeout=5 * CHECKER_WAIT_S)
        if isinstance(self.worker, multiprocessing.process.BaseProcess) and self.worker.is_alive():
            self.worker.terminate()
            self.worker.join()


def import_comments(
    engine: Engine,
    source: Source,
    *,
    strict: bool = False,
    chunk_rows: int,
    on_bad: Callable[[BadRow], None] = lambda _bad: None,
    progress: Progress = lambda _position: None,
    after_chunk: AfterChunk | None = None,
    before_insert: ChunkHook | None = None,
    sqlite_cache_mib: int | None = None,
    checker: Checker | None = None,
    defer_indexes: DeferIndexes = "never",
    defer_indexes_min_rows: int = 100_000,
    on_stage: Callable[[str], None] = lambda _stage: None,
) -> ImportReport:
    """Store the good rows of ``source``, one transaction per ``chunk_rows`` rows; each chunk's new
    comments are counted in the statistics aggregates in its transaction.

    ``strict``: the source is checked first and any bad row refuses the import (ImportRefusedError,
    nothing stored). Otherwise bad rows are given to ``on_bad`` and skipped. ``sqlite_cache_mib``: the
    page cache of the import's connection on SQLite (memory only: nothing about durability changes).
    ``checker``: where the rows are read and checked while chunks are stored (default: a process for a
    file of CHECKER_PROCESS_MIN_BYTES or more, else a thread). ``defer_indexes`` (SQLite): whether the
    comments after the first chunk are stored with the secondary indexes set aside, built again at the
    end (``deferred_indexes``; "auto": when ``worth_deferring`` for the source's expected size); a SQLite
    import always ends by building any index missing. ``on_stage``: told about those two steps.
    """
    if strict:
        bad = 0
        for where, checked in checked_rows(source):
            progress(source.position)
            if isinstance(checked, str):
                bad += 1
                on_bad(BadRow(where, checked))
        if bad:
            raise ImportRefusedError(f"{bad} bad rows: nothing stored (--strict)")
    report = ImportReport()

    def store(rows: list[StoredRow]) -> None:
        with engine.begin() as connection:
            if sqlite_cache_mib is not None and connection.dialect.name == "sqlite":
                connection.exec_driver_sql(f"PRAGMA cache_size = -{int(sqlite_cache_mib) * 1024}")
            stored = store_chunk(connection, rows, before_insert)
            if after_chunk is not None:
                after_chunk(connection, stored)
        report.stored += stored
        report.already_present += len(rows) - stored

    # The checking (read, rules, receipts) runs beside this writer: in a child process for a large file,
    # so that the two use two CPUs instead of taking turns at the GIL, else in a thread. At most three
    # chunks are in memory: the one stored, one waiting, one being checked.
    sqlite = engine.dialect.name == "sqlite"
    table_rows = _table_rows(engine) if sqlite and defer_indexes != "never" else 0
    decided = not sqlite or defer_indexes == "never"
    try:
        with _CheckedChunks(source, chunk_rows, checker) as checked_chunks:
            for checked in checked_chunks:
                report.rows += checked.read
                report.bad += len(checked.bad)
                for bad in checked.bad:
                    on_bad(bad)
                if checked.rows:
                    store(checked.rows)
                progress(checked.position)
                if not decided:  # after the first chunk: its rows tell the source's size
                    decided = True
                    expected = source.expected_rows(report.rows, checked.position)
                    if defer_indexes == "always" or deferred_indexes.worth_deferring(
                        expected, table_rows, defer_indexes_min_rows
                    ):
                        _set_indexes_aside(engine, expected, table_rows, on_stage)
    except Exception:
        if sqlite:  # best effort, so that a failed import does not leave the table without its indexes
            with contextlib.suppress(Exception):  # the import's own error is the one to report
                _restore_indexes(engine, on_stage)
        raise
    progress(source.position)
    if sqlite:
        _restore_indexes(engine, on_stage)
    return report


def _set_indexes_aside(
    engine: Engine, expected: int, table_rows: int, on_stage: Callable[[str], None]
) -> None:
    with engine.begin() as connection:
        dropped = deferred_indexes.set_aside(connection)
    if dropped:
        on_stage(
            f"about {expected:,} rows to import into a table of {table_rows:,}: "
            f"{len(dropped)} indexes set aside until the end"
        )


def _table_rows(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(comments)) or 0)


def _restore_indexes(engine: Engine, on_stage: Callable[[str], None]) -> None:
    def building(position: int, count: int, name: str) -> None:
        on_stage(f"building index {position} of {count} again: {name}")

    with engine.begin() as connection:
        deferred_indexes.restore(connection, building)
