"""Engines and sessions tuned for each backend: SQLite (embedded default) and MariaDB."""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_CONNECT_TIMEOUT = 5
UNBOUNDED_SQLITE_BUSY_SECONDS = 30.0  # batch jobs queue behind the API's short writes


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(busy_timeout_ms: int) -> Callable[[Any, Any], None]:
    def set_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL lets readers run beside the one writer; busy_timeout makes writers queue instead of failing.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return set_pragmas


# Seconds a writer may queue for the per-process SQLite write lock (threekcal.db.queries), per engine.
_write_lock_waits: weakref.WeakKeyDictionary[Engine, float] = weakref.WeakKeyDictionary()


def write_lock_wait(engine: Engine) -> float:
    """How long a writer may wait for this engine's write lock; -1: as long as it takes."""
    return _write_lock_waits.get(engine, -1.0)


def make_engine(url: str, *, pool_size: int = 20, timeout: float | None = None, **kwargs: Any) -> Engine:
    """An engine; ``timeout`` (seconds) bounds every wait: connect, read, write, statement, lock wait, pool
    checkout and SQLite's busy wait. Without it (batch jobs, migrations) statements may run long.
    SQL parameters (comment text, names, receipts) never appear in errors or logs."""
    parsed = make_url(url)
    kwargs.setdefault("hide_parameters", True)
    if "poolclass" not in kwargs:
        kwargs.update(pool_size=pool_size, max_overflow=pool_size)
        if timeout is not None:
            kwargs.setdefault("pool_timeout", timeout)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        wait = timeout if timeout is not None else UNBOUNDED_SQLITE_BUSY_SECONDS
        engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": wait}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas(int(wait * 1000)))
        if timeout is not None:
            _write_lock_waits[engine] = timeout
        return engine
    if "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    connect_args = kwargs.pop("connect_args", {})
    connect_args.setdefault("connect_timeout", timeout or DEFAULT_CONNECT_TIMEOUT)
    if timeout is not None:
        connect_args.setdefault("read_timeout", timeout)
        connect_args.setdefault("write_timeout", timeout)
        # The server gives up first (a clear error, the connection stays usable); the socket timeouts
        # above catch a server that does not answer at all (frozen, or a network that drops packets).
        lock_wait = max(1, math.ceil(timeout))
        connect_args.setdefault(
            "init_command",
            f"SET SESSION max_statement_time={timeout:g}, innodb_lock_wait_timeout={lock_wait}",
        )
    return create_engine(
        parsed,
        pool_pre_ping=True,  # a server that went away and came back is reconnected to transparently
        pool_recycle=3600,
        isolation_level="READ COMMITTED",
        connect_args=connect_args,
        **kwargs,
    )


@lru_cache(maxsize=16)
def _engine(url: str, timeout: float | None) -> Engine:
    return make_engine(url, timeout=timeout)


def engine_for(url: str, timeout: float | None = None) -> Engine:
    """One pooled engine per URL (and wait bound) per process."""
    return _engine(url, timeout)  # both arguments always given: engine_for(u) is engine_for(u, None)


engine_for.cache_clear = _engine.cache_clear  # type: ignore[attr-defined]


@lru_cache(maxsize=16)
def _session_factory(url: str, timeout: float | None) -> sessionmaker[Session]:
    # Cached: building a sessionmaker sets up a Session subclass and its events, far too slow per request.
    return sessionmaker(engine_for(url, timeout), expire_on_commit=False)


def session_factory(url: str, timeout: float | None = None) -> sessionmaker[Session]:
    return _session_factory(url, timeout)


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
