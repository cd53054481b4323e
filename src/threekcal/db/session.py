"""Engines and sessions tuned for each backend: SQLite (embedded default) and MariaDB."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the one writer; busy_timeout makes writers queue instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str, *, pool_size: int = 20, **kwargs: Any) -> Engine:
    parsed = make_url(url)
    if "poolclass" not in kwargs:
        kwargs.update(pool_size=pool_size, max_overflow=pool_size)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed,
            connect_args={"check_same_thread": False, "timeout": 30},
            **kwargs,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    connect_args = kwargs.pop("connect_args", {})
    connect_args.setdefault("connect_timeout", 5)
    return create_engine(
        parsed,
        pool_pre_ping=True,  # a server that went away and came back is reconnected to transparently
        pool_recycle=3600,
        isolation_level="READ COMMITTED",
        connect_args=connect_args,
        **kwargs,
    )


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    """One pooled engine per URL per process."""
    return make_engine(url)


@lru_cache(maxsize=8)
def session_factory(url: str) -> sessionmaker[Session]:
    # Cached: building a sessionmaker sets up a Session subclass and its events, far too slow per request.
    return sessionmaker(engine_for(url), expire_on_commit=False)


def refresh_planner_statistics(url: str) -> None:
    """ANALYZE on SQLite, which plans without row statistics until it runs: it then walks the label index
    for "unlabeled, least confident first" and sorts 80,000 rows instead of reading the score index in
    order. MariaDB keeps its statistics current by itself."""
    if is_sqlite(url):
        with engine_for(url).begin() as connection:
            connection.exec_driver_sql("ANALYZE")


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A transaction: committed when the block ends, rolled back on any exception."""
    with session_factory(url)() as session, session.begin():
        yield session
