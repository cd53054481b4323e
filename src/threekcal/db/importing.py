"""Bulk import of existing comments: a CSV or JSON Lines file, or the original system's MariaDB table.

Every row is checked with the API's rules (``threekcal.validation.clean_comment_record``); a bad row is
reported with its line number and skipped, or, when strict, refuses the whole import before anything is
stored (a first pass reads the source without storing). Rows are read as a stream and stored in chunks,
one transaction per chunk, so memory stays bounded whatever the size of the source; each chunk's new
comments are counted in the statistics aggregates in its transaction (a few GROUP BYs in the database:
``aggregates.add_comment_range`` on SQLite, ``aggregates.add_comment_receipts`` on MariaDB). The next
chunk is read and checked meanwhile, in a child process for a large file (``checked_chunks``).

Running an import twice stores nothing new: each row's receipt is derived from its content (user,
request time, text): the request time's hour, then a hash of the three. The table's unique receipt
constraint decides: on SQLite ``INSERT OR IGNORE`` skips the comments stored before, whoever stored them,
and the chunk counts the rows it did insert (no race is possible: SQLite has one writer at a time). On
MariaDB a chunk looks its receipts up first, inserts only the new ones (``INSERT IGNORE``) and counts
them by those receipts; a chunk whose rows another writer stored between the look-up and the INSERT is rolled
back (its counts would be wrong). The same comment twice in one source is stored once.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import hashlib
import json
import multiprocessing
import multiprocessing.process
import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine, MetaData, Table, create_engine, func, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, make_url

from threekcal.db import aggregates, deferred_indexes
from threekcal.db.models import Comment
from threekcal.validation import (
    COMMENT_RECORD_FIELDS,
    REQUIRED_RECORD_FIELDS,
    CommentRecord,
    InvalidInput,
    clean_comment_record,
)

Format = Literal["csv", "jsonl"]
DeferIndexes = Literal["auto", "always", "never"]
FORMATS: dict[str, Format] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
RECEIPT_DOMAIN = b"threekcal-import\x00"
# A receipt: the request time's hour (10 digits, YYYYMMDDHH) and 22 characters (132 bits) of the content's
# hash: 32 characters, as long as the API's receipts. The hour first keeps the unique receipt index
# written near its end for a source in time order, as most are: a key at a random place of the index
# costs SQLite about half as much again per imported row as the rest of the row's indexes together.
RECEIPT_HASH_CHARS = 22
TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # how both backends store and compare UTC times (see merge.time_text)
STORED_COLUMNS = ("receipt", *COMMENT_RECORD_FIELDS)
RECEIPT_LOOKUP_BATCH = 5000  # receipts per IN (...) query: well under SQLite's 32766 parameters
comments = Comment.__table__

# In a chunk's transaction: before its insert, the receipts of the comments it is about to store
# (``before_insert``); after its insert, how many comments it stored (``after_chunk``).
ChunkHook = Callable[[Connection, Sequence[str]], None]
AfterChunk = Callable[[Connection, int], None]
Progress = Callable[[int], None]  # the source's position: bytes read of a file, rows read of a table


class ImportRefusedError(ValueError):
    """The source cannot be imported at all (missing file, unknown format, missing column, bad URL,
    or bad rows under ``strict``): nothing was stored."""


@dataclass(frozen=True, slots=True)
class BadRow:
    where: str  # "line 12" (files) or "num 12" / "row 12" (tables)
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class ImportReport:
    rows: int = 0  # rows read (good and bad)
    stored: int = 0  # newly stored comments
    already_present: int = 0  # good rows whose comment was stored before (or earlier in this source)
    bad: int = 0  # rows refused by the rules

    def summary(self) -> str:
        return (
            f"{self.rows} rows read: {self.stored} comments stored, {self.already_present} already present, "
            f"{self.bad} bad rows skipped"
        )


def _time_text(value: datetime) -> str:
    """TIME_FORMAT's text of an aware UTC time (as the rules return them); isoformat is much faster
    than strftime."""
    text = value.isoformat(" ", "microseconds")
    if not text.endswith("+00:00"):  # not UTC: convert (the rules never give such a time)
        text = value.astimezone(UTC).isoformat(" ", "microseconds")
    return text[:-6]


def receipt_for(record: CommentRecord) -> str:
    """The receipt of an imported comment, from its content: the same row always gets the same one."""
    return _receipt(record.request_user, _time_text(record.request_time), record.comments)


def _receipt(user: str, time_text: str, text: str) -> str:
    content = "\x00".join((user, time_text, text)).encode("utf-8", "surrogatepass")
    digest = hashlib.sha256(RECEIPT_DOMAIN + content).digest()
    hour = time_text[0:4] + time_text[5:7] + time_text[8:10] + time_text[11:13]
    return hour + base64.urlsafe_b64encode(digest).decode()[:RECEIPT_HASH_CHARS]


def stored_values(record: CommentRecord) -> tuple[Any, ...]:
    """The values of STORED_COLUMNS, serialised as the column types store them."""
    request_time = _time_text(record.request_time)
    prediction_time = record.prediction_time
    return (
        _receipt(record.request_user, request_time, record.comments),
        record.comments,
        record.request_user,
        request_time,
        record.prediction_result,
        record.prediction_score,
        None if prediction_time is None else _time_text(prediction_time),
        record.label,
        record.remark,
    )


# ------------------------------------------------------------------------------------------- sources
class Source:
    """Rows of a source as (where, values), or (where, why the row cannot be read); ``total`` and
    ``position`` measure progress."""

    total: int | None = None
    unit: str = "rows"

    def __init__(self) -> None:
        self.position = 0

    def rows(self) -> Iterator[tuple[str, Mapping[str, object] | str]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def expected_rows(self, rows_read: int, position: int) -> int:
        """The rows the whole source probably holds, when its first ``rows_read`` rows end at ``position``."""
        if self.unit == "rows" or not position:
            return self.total or rows_read
        return round(rows_read * (self.total or 0) / position)


class FileSource(Source):
    unit = "bytes"

    def __init__(self, path: Path, fmt: Format) -> None:
        super().__init__()
        self.path = path
        self.format = fmt
        self.total = path.stat().st_size
        if fmt == "csv":
            self._check_header()

    def describe(self) -> str:
        return f"{self.path} ({self.format})"

    def _lines(self) -> Iterator[str]:
        # Bytes that are not UTF-8 become lone surrogates, which the rules refuse as invalid Unicode.
        self.position = 0
        with open(self.path, "rb") as file:
            for raw in file:
                self.position += len(raw)
                line = raw.decode("utf-8", "surrogateescape")
                if self.position == len(raw):
                    line = line.removeprefix("\ufeff")  # a byte order mark
                yield line

    def _check_header(self) -> None:
        header = next(csv.reader(self._lines()), None)
        if header is None:
            raise ImportRefusedError(f"{self.path} is empty: a CSV file starts with a header line")
        missing = [name for name in REQUIRED_RECORD_FIELDS if name not in (h.strip() for h in header)]
        if missing:
            raise ImportRefusedError(
                f"{self.path} has no column {', '.join(missing)} (its header: {', '.join(header)}); "
                f"required: {', '.join(REQUIRED_RECORD_FIELDS)}"
            )

    def rows(self) -> Iterator[tuple[str, Mapping[str, object] | str]]:
        if self.format == "csv":
            yield from self._csv_rows()
        else:
            yield from self._jsonl_rows()

    def _csv_rows(self) -> Iterator[tuple[str, Mapping[str, object] | str]]:
        reader = csv.reader(self._lines(), strict=True)
        try:
            header = [name.strip() for name in next(reader)]
            indexes = [(name, header.index(name)) for name in COMMENT_RECORD_FIELDS if name in header]
            width = len(header)
            start = reader.line_num + 1
            for cells in reader:
                where = f"line {start}"
                start = reader.line_num + 1
                if not cells:
                    continue  # a blank line
                if len(cells) != width:
                    yield where, f"{len(cells)} cells, the header has {width}"
                    continue
                yield where, {name: cells[index] or None for name, index in indexes}
        except csv.Error as error:
            yield f"line {reader.line_num}", f"not valid CSV: {error}"

    def _jsonl_rows(self) -> Iterator[tuple[str, Mapping[str, object] | str]]:
        for line_no, line in enumerate(self._lines(), start=1):
            if not line.strip():
                continue
            try:
                values = json.loads(line)
            except ValueError:
                values = None
            if not isinstance(values, dict):
                yield f"line {line_no}", "not a JSON object"
                continue
            yield f"line {line_no}", values


class TableSource(Source):
    """A table of the original system (MariaDB), read in primary-key order with a server-side cursor."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url, self.table_name = _table_url(url)
        self.engine = create_engine(self.url, connect_args={"connect_timeout": 10})
        try:
            table = Table(self.table_name, MetaData(), autoload_with=self.engine)
            with self.engine.connect() as connection:
                self.total = connection.scalar(select(func.count()).select_from(table))
        except sa_exc.NoSuchTableError:
            self.engine.dispose()
            raise ImportRefusedError(f"no table {self.table_name} in {self._shown()}") from None
        except sa_exc.SQLAlchemyError as error:
            self.engine.dispose()
            raise ImportRefusedError(f"cannot read {self._shown()}: {error.orig or error}") from None
        missing = [name for name in REQUIRED_RECORD_FIELDS if name not in table.c]
        if missing:
            self.engine.dispose()
            raise ImportRefusedError(
                f"table {self.table_name} has no column {', '.join(missing)}; "
                f"required: {', '.join(REQUIRED_RECORD_FIELDS)}"
            )
        self.table = table
        self.columns = [table.c[name] for name in COMMENT_RECORD_FIELDS if name in table.c]
        self.key = list(table.primary_key.columns)

    def _shown(self) -> str:
        return self.url.render_as_string(hide_password=True)

    def describe(self) -> str:
        return f"table {self.table_name} of {self._shown()}"

    def rows(self) -> Iterator[tuple[str, Mapping[str, object] | str]]:
        self.position = 0
        key_name = self.key[0].name if len(self.key) == 1 else None
        query = select(*self.columns, *self.key).order_by(*self.key)
        names = [column.name for column in self.columns]
        with self.engine.connect().execution_options(stream_results=True, yield_per=10_000) as connection:
            for row in connection.execute(query):
                self.position += 1
                where = f"{key_name} {row[len(names)]}" if key_name else f"row {self.position}"
                yield where, dict(zip(names, row, strict=False))

    def close(self) -> None:
        self.engine.dispose()


def _table_url(spec: str) -> tuple[URL, str]:
    try:
        url = make_url(spec)
    except sa_exc.ArgumentError:
        raise ImportRefusedError(
            f"not a database URL: {spec!r}; expected mysql+pymysql://USER:PASSWORD@HOST:3306/DB.TABLE"
        ) from None
    if url.get_backend_name() not in ("mysql", "mariadb"):
        raise ImportRefusedError(
            f"--from-table reads MariaDB/MySQL tables (mysql+pymysql://...), not {url.get_backend_name()}"
        )
    database, dot, table = (url.database or "").partition(".")
    if not dot or not database or not table:
        raise ImportRefusedError(
            f"the URL names no table: end it with /DB.TABLE ({url.render_as_string(hide_password=True)})"
        )
    if "charset" not in url.query:
        url = url.update_query_dict({"charset": "utf8mb4"})
    return url.set(database=database), table


def file_source(path: Path, fmt: Format | None = None) -> FileSource:
    if not path.exists():
        raise ImportRefusedError(f"no such file: {path}")
    if not path.is_file():
        raise ImportRefusedError(f"not a file: {path}")
    chosen = fmt or FORMATS.get(path.suffix.lower())
    if chosen is None:
        raise ImportRefusedError(
            f"unknown format of {path}: name it .csv or .jsonl (or give --format csv|jsonl)"
        )
    return FileSource(path, chosen)


def table_source(url: str) -> TableSource:
    return TableSource(url)


# ------------------------------------------------------------------------------------------- import
def _checked(source: Source) -> Iterator[tuple[str, CommentRecord | str]]:
    for where, values in source.rows():
        if isinstance(values, str):
            yield where, values
            continue
        try:
            yield where, clean_comment_record(values)
        except InvalidInput as error:
            yield where, str(error)


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


StoredRow = tuple[Any, ...]  # the values of STORED_COLUMNS (stored_values)


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


@dataclass(slots=True)
class CheckedChunk:
    """Up to ``chunk_rows`` good rows as stored_values, the bad rows among them, how many rows were read
    (good and bad) and the source's position after them."""

    rows: list[StoredRow]
    bad: list[BadRow]
    read: int
    position: int


def checked_chunks(source: Source, chunk_rows: int) -> Iterator[CheckedChunk]:
    rows: list[StoredRow] = []
    bad: list[BadRow] = []
    read = 0
    for where, checked in _checked(source):
        read += 1
        if isinstance(checked, str):
            bad.append(BadRow(where, checked))
        else:
            rows.append(stored_values(checked))
        if len(rows) >= chunk_rows or len(bad) >= chunk_rows:
            yield CheckedChunk(rows, bad, read, source.position)
            rows, bad, read = [], [], 0
    if read:
        yield CheckedChunk(rows, bad, read, source.position)


_END = "end"  # the checker is done
# A checker process costs about a second to start (it imports the rules and the models): below this
# size a file is checked in a thread (~100,000 rows of a typical CSV).
CHECKER_PROCESS_MIN_BYTES = 10 * 1024 * 1024
Checker = Literal["process", "thread"]
CHECKER_WAIT_S = 0.5  # how often a blocked checker looks whether the writer has stopped


def _check(source: Source, chunk_rows: int, out: Any, stop: Any) -> None:
    """The checker's loop (a child process or a thread): chunks into ``out`` until the source ends, an
    error (handed over too) or ``stop``."""
    try:
        for chunk in checked_chunks(source, chunk_rows):
            while not stop.is_set():
                try:
                    out.put(chunk, timeout=CHECKER_WAIT_S)
                    break
                except queue.Full:
                    continue
            if stop.is_set():
                return
        out.put(_END)
    except Exception as error:  # the writer raises it
        out.put(error)


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
                target=_check, args=(source, chunk_rows, self.queue, self.stop), daemon=True
            )
        else:
            self.queue = queue.Queue(maxsize=1)
            self.stop = threading.Event()
            self.worker = threading.Thread(
                target=_check, args=(source, chunk_rows, self.queue, self.stop), daemon=True
            )
        self.source = source

    def __enter__(self) -> Iterator[CheckedChunk]:
        self.worker.start()
        return self._chunks()

    def _chunks(self) -> Iterator[CheckedChunk]:
        while True:
            item = self.queue.get()
            if isinstance(item, str):  # _END
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
    chunk_rows: int = 50_000,
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
        for where, checked in _checked(source):
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
