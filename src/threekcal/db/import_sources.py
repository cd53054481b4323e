"""Where imported comments come from, and how each row is checked (db/importing.py stores them).

Sources: a CSV or JSON Lines file, or the original system's MariaDB table, read as a stream of rows with
where each row is ("line 12", "num 12"). Each row is checked with the API's rules
(``threekcal.validation.clean_comment_record``) and turned into the values a comment is stored with, its
receipt first: derived from its content (user, request time, text), the request time's hour and then a
hash of the three, so the same row always gets the same receipt and importing it twice stores it once.
``checked_chunks`` groups them for the writer; ``check`` is the checker's loop.

This module imports no SQLAlchemy at start (a table source imports it when made): the checker of a large
file runs in a child process that starts with this module, while the writer waits for its first chunk.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import queue
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from threekcal.validation import (
    COMMENT_RECORD_FIELDS,
    REQUIRED_RECORD_FIELDS,
    CommentRecord,
    InvalidInput,
    clean_comment_record,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

Format = Literal["csv", "jsonl"]
FORMATS: dict[str, Format] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
RECEIPT_DOMAIN = b"threekcal-import\x00"
# A receipt: the request time's hour (10 digits, YYYYMMDDHH) and 22 characters (132 bits) of the content's
# hash: 32 characters, as long as the API's receipts. The hour first keeps the unique receipt index
# written near its end for a source in time order, as most are: a key at a random place of the index
# costs SQLite about half as much again per imported row as the rest of the row's indexes together.
RECEIPT_HASH_CHARS = 22
TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # how both backends store and compare UTC times (see merge.time_text)
STORED_COLUMNS = ("receipt", *COMMENT_RECORD_FIELDS)


class ImportRefusedError(ValueError):
    """The source cannot be imported at all (missing file, unknown format, missing column, bad URL,
    or bad rows under ``strict``): nothing was stored."""


@dataclass(frozen=True, slots=True)
class BadRow:
    where: str  # "line 12" (files) or "num 12" / "row 12" (tables)
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


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
        # SQLAlchemy is imported here, not at the top: see the module's docstring.
        from sqlalchemy import MetaData, Table, create_engine, func, select
        from sqlalchemy import exc as sa_exc

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
        from sqlalchemy import select

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
    from sqlalchemy import exc as sa_exc
    from sqlalchemy.engine import make_url

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
def checked_rows(source: Source) -> Iterator[tuple[str, CommentRecord | str]]:
    for where, values in source.rows():
        if isinstance(values, str):
            yield where, values
            continue
        try:
            yield where, clean_comment_record(values)
        except InvalidInput as error:
            yield where, str(error)


StoredRow = tuple[Any, ...]  # the values of STORED_COLUMNS (stored_values)


@dataclass(slots=True)
class CheckedChunk:
    """Up to ``chunk_rows`` good rows as stored_values, the bad rows among them, how many rows were read
    (good and bad) and the source's position after them."""

    rows: list[StoredRow]
    bad: list[BadRow]
    read: int
    position: int


def _receipt_of(values: StoredRow) -> str:
    return values[0]  # type: ignore[no-any-return]


def checked_chunks(source: Source, chunk_rows: int) -> Iterator[CheckedChunk]:
    """Chunks of ``chunk_rows`` good rows (or bad ones), each in receipt order (a stable sort: of the same
    comment twice, the first stays first)."""
    rows: list[StoredRow] = []
    bad: list[BadRow] = []
    read = 0
    for where, checked in checked_rows(source):
        read += 1
        if isinstance(checked, str):
            bad.append(BadRow(where, checked))
        else:
            rows.append(stored_values(checked))
        if len(rows) >= chunk_rows or len(bad) >= chunk_rows:
            rows.sort(key=_receipt_of)  # the writer's sort (store_chunk) then finds them in order
            yield CheckedChunk(rows, bad, read, source.position)
            rows, bad, read = [], [], 0
    if read:
        rows.sort(key=_receipt_of)
        yield CheckedChunk(rows, bad, read, source.position)


END = "end"  # the checker is done
CHECKER_WAIT_S = 0.5  # how often a blocked checker looks whether the writer has stopped


def check(source: Source, chunk_rows: int, out: Any, stop: Any) -> None:
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
        out.put(END)
    except Exception as error:  # the writer raises it
        out.put(error)
