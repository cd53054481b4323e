"""The statistics aggregates against their rows: every count again from the rows of ``comments``
(``recompute``: chunked, bounded memory, the cells are kept and not the rows), the cells where the
tables differ from it (``differences``: ``threekcal stats verify``), and the tables replaced by it
(``rebuild``: ``threekcal stats rebuild``, migration 0007). The counting rules are db/aggregates.py's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection

from threekcal.db.aggregates import COUNT_COLUMNS, KEY_COLUMNS, STATE_COLUMNS, TABLES, Delta
from threekcal.db.models import Comment

RECOMPUTE_CHUNK = 20_000  # rows read at a time
Progress = Callable[[int, int], None]  # rows done, rows in all


def _comment_rows(connection: Connection, chunk: int) -> Iterator[list[dict[str, Any]]]:
    table = Comment.__table__
    columns = [table.c.num, *(table.c[name] for name in STATE_COLUMNS)]
    after = -1
    while True:
        rows = [
            dict(row._mapping)
            for row in connection.execute(
                select(*columns).where(table.c.num > after).order_by(table.c.num).limit(chunk)
            )
        ]
        if not rows:
            return
        after = rows[-1]["num"]
        yield rows


def recompute(
    connection: Connection,
    *,
    chunk: int = RECOMPUTE_CHUNK,
    progress: Progress | None = None,
) -> Delta:
    """Every count again from the rows of ``comments``, read in chunks of ``chunk`` by number."""
    total = int(connection.execute(select(func.count()).select_from(Comment.__table__)).scalar_one())
    done = 0
    delta = Delta()
    for rows in _comment_rows(connection, chunk):
        for row in rows:
            delta.add(row)
        done += len(rows)
        if progress:
            progress(done, total)
    if progress:
        progress(done, total)
    return delta


def stored(connection: Connection) -> Delta:
    """The counts in the tables (rows of zeros left out)."""
    delta = Delta()
    for table in TABLES:
        keys, counts = KEY_COLUMNS[table.name], COUNT_COLUMNS[table.name]
        cells = delta.cells[table.name]
        for row in connection.execute(select(*(table.c[k] for k in keys), *(table.c[c] for c in counts))):
            values = [int(v) for v in row[len(keys) :]]
            if any(values):
                cells[tuple(row[: len(keys)])] = values
    return delta


@dataclass(frozen=True)
class Difference:
    table: str
    key: tuple[Any, ...]
    stored: tuple[int, ...]
    expected: tuple[int, ...]

    def describe(self) -> str:
        names = COUNT_COLUMNS[self.table]
        key = ", ".join(f"{k}={v!r}" for k, v in zip(KEY_COLUMNS[self.table], self.key, strict=True))
        changes = ", ".join(
            f"{n}: {s} != {e}" for n, s, e in zip(names, self.stored, self.expected, strict=True) if s != e
        )
        return f"{self.table} ({key}): {changes}"


def _normalized(delta: Delta, table: str, case_fold: bool) -> dict[tuple[Any, ...], tuple[int, ...]]:
    cells: dict[tuple[Any, ...], list[int]] = {}
    for key, counts in delta.cells[table].items():
        folded = tuple(k.casefold().rstrip() if case_fold and isinstance(k, str) else k for k in key)
        cell = cells.setdefault(folded, [0] * len(counts))
        for i, n in enumerate(counts):
            cell[i] += n
    return {key: tuple(counts) for key, counts in cells.items() if any(counts)}


def differences(connection: Connection, expected: Delta | None = None) -> list[Difference]:
    """Cells whose stored counts differ from a recomputation from the rows.

    On MariaDB keys compare as its collation does (case- and trailing-space-insensitive): "Ana" and
    "ana" are one user there, in the tables as in the old GROUP BY."""
    expected = expected if expected is not None else recompute(connection)
    have = stored(connection)
    fold = connection.dialect.name != "sqlite"
    found = []
    for table in TABLES:
        want, got = _normalized(expected, table.name, fold), _normalized(have, table.name, fold)
        for key in sorted(set(want) | set(got), key=repr):
            zero = (0,) * len(COUNT_COLUMNS[table.name])
            if want.get(key, zero) != got.get(key, zero):
                found.append(Difference(table.name, key, got.get(key, zero), want.get(key, zero)))
    return found


def rebuild(
    connection: Connection,
    *,
    chunk: int = RECOMPUTE_CHUNK,
    progress: Progress | None = None,
) -> Delta:
    """Replaces the counts with a recomputation from the rows (in the caller's transaction).

    Memory holds the cells, not the rows. Stop writers first (API, worker): a write committed while the
    rows are read may be counted twice or not at all."""
    expected = recompute(connection, chunk=chunk, progress=progress)
    for table in reversed(TABLES):
        connection.execute(delete(table))
    expected.apply(connection)
    return expected
