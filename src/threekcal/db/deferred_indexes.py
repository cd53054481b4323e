"""The secondary indexes of ``comments``, set aside while a large import stores its rows on SQLite and
built again afterwards.

SQLite keeps each index up to date row by row, at a random place of each index for most of them: at a
million rows that is about three quarters of an import's INSERT time. ``CREATE INDEX`` instead sorts the
whole table once per index. So an import that brings in at least as many comments as the table holds
(the first load of a team's data, above all) drops these indexes after its first chunk, stores the rest
without them and creates them again at the end (``bench/scale.py`` prints both ways). The primary key and
the unique receipt index stay: the import's ``INSERT OR IGNORE`` relies on them. Reads stay correct
meanwhile, only list pages are slower.

If the import is killed before it puts them back, every stored row is still right, only the indexes are
missing: ``restore`` creates any index the models declare that the database lacks; every SQLite import
calls it at its end (so the next one finishes the job), and so does ``threekcal db upgrade``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Index, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateIndex

from threekcal.db.models import Comment

comments = Comment.__table__
SQLITE_DEFAULT_CACHE_SIZE = -2000  # SQLite's compiled-in default page cache: 2,000 KiB


def deferrable() -> list[Index]:
    """The indexes an import may set aside: every index of ``comments`` but the unique ones."""
    kept = (index for index in comments.indexes if not index.unique)
    return sorted(kept, key=lambda index: str(index.name))


def _present(connection: Connection) -> set[str]:
    if connection.dialect.name == "sqlite":
        # A SELECT, unlike the PRAGMA the inspector uses, sees a schema another connection just changed.
        query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
        return {name for (name,) in connection.exec_driver_sql(query, (comments.name,))}
    return {str(index["name"]) for index in inspect(connection).get_indexes(comments.name)}


def missing(connection: Connection) -> list[Index]:
    present = _present(connection)
    return [index for index in deferrable() if index.name not in present]


def set_aside(connection: Connection) -> list[str]:
    """Drop the deferrable indexes present (SQLite only); their names."""
    if connection.dialect.name != "sqlite":
        raise ValueError("indexes are only set aside on SQLite")
    present = _present(connection)
    dropped = [index for index in deferrable() if index.name in present]
    for index in dropped:
        index.drop(connection)
    return [str(index.name) for index in dropped]


def restore(
    connection: Connection, on_index: Callable[[int, int, str], None] = lambda _i, _n, _name: None
) -> list[str]:
    """Create the deferrable indexes the database lacks (``on_index`` is told before each: its position,
    how many, its name), then refresh SQLite's planner statistics of the table (dropping an index drops
    its statistics); their names."""
    created = missing(connection)
    if not created:
        return []
    sqlite = connection.dialect.name == "sqlite"
    # SQLite: CREATE INDEX sorts in pieces as large as the page cache: SQLite's own small default sorts a
    # million rows in about 75% of the time that the import's 64 MiB takes (its pieces stay in the CPU's
    # caches), with 100 MiB less memory. The import's checker has ended: the sort may use the other CPUs
    # (a million rows: 13.5 s -> 11.0 s on 2 CPUs, 4 MiB more).
    settings = {"cache_size": SQLITE_DEFAULT_CACHE_SIZE, "threads": max(0, (os.cpu_count() or 1) - 1)}
    with _sqlite_pragmas(connection, settings if sqlite else {}):
        for position, index in enumerate(created, start=1):
            on_index(position, len(created), str(index.name))
            connection.execute(CreateIndex(index, if_not_exists=True))
    if sqlite:
        connection.exec_driver_sql(f"ANALYZE {comments.name}")
    return [str(index.name) for index in created]


@contextmanager
def _sqlite_pragmas(connection: Connection, values: dict[str, int]) -> Iterator[None]:
    """The connection's integer PRAGMAs set to ``values`` meanwhile, and back afterwards, also after an
    error (a pooled connection keeps them)."""
    before = {name: int(connection.exec_driver_sql(f"PRAGMA {name}").scalar_one()) for name in values}
    for name, value in values.items():
        connection.exec_driver_sql(f"PRAGMA {name} = {int(value)}")
    try:
        yield
    finally:
        for name, value in before.items():
            connection.exec_driver_sql(f"PRAGMA {name} = {value}")


def worth_deferring(expected_rows: int, table_rows: int, min_rows: int) -> bool:
    """Setting the indexes aside pays when the import adds at least ``min_rows`` comments and at least as
    many as the table already holds (rebuilding sorts the whole table)."""
    return expected_rows >= min_rows and expected_rows >= table_rows
