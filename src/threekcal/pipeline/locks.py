"""One predict and one apply at a time per database, whoever runs them (worker, Airflow, a person).

MariaDB: a named server lock (``GET_LOCK``) held on its own connection; SQLite: ``flock`` on a file
beside the database. Both vanish with the process that holds them, even on SIGKILL, so a crash never
leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from threekcal.db.session import engine_for, is_sqlite

LOCK_POLL_SECONDS = 0.05


@contextmanager
def step_lock(database_url: str, name: str, *, timeout: float = 0.0) -> Iterator[bool]:
    """Yields True while holding lock ``name``; False if another process held it for ``timeout`` s."""
    if is_sqlite(database_url):
        with _file_lock(database_url, name, timeout) as acquired:
            yield acquired
    else:
        with _server_lock(database_url, name, timeout) as acquired:
            yield acquired


@contextmanager
def _file_lock(database_url: str, name: str, timeout: float) -> Iterator[bool]:
    database = make_url(database_url).database
    if not database or database == ":memory:":  # one process owns an in-memory database anyway
        yield True
        return
    path = Path(f"{database}.{name}.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(LOCK_POLL_SECONDS)
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def _server_lock(database_url: str, name: str, timeout: float) -> Iterator[bool]:
    lock_name = f"threekcal:{make_url(database_url).database}:{name}"[:64]
    with engine_for(database_url).connect() as connection:
        acquired = connection.execute(
            text("SELECT GET_LOCK(:name, :timeout)"), {"name": lock_name, "timeout": timeout}
        ).scalar()
        connection.commit()
        if acquired != 1:
            yield False
            return
        try:
            yield True
        finally:
            connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": lock_name})
            connection.commit()
