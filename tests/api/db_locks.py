"""A database whose tables another connection holds locked, on SQLite and MariaDB."""

from __future__ import annotations

import sqlite3

from sqlalchemy import text
from sqlalchemy.engine import make_url

from threekcal.db.session import engine_for


class TableLock:
    """Another connection holding the write lock of the database (SQLite: BEGIN EXCLUSIVE; MariaDB:
    LOCK TABLES comments WRITE), as a stuck writer or a frozen server would."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> TableLock:
        parsed = make_url(self.url)
        if parsed.get_backend_name() == "sqlite":
            self.sqlite = sqlite3.connect(parsed.database, isolation_level=None, check_same_thread=False)
            self.sqlite.execute("BEGIN EXCLUSIVE")
            self.mariadb = None
        else:
            self.sqlite = None
            self.mariadb = engine_for(self.url).connect()
            self.mariadb.execute(text("LOCK TABLES comments WRITE, idempotency_keys WRITE"))
        return self

    def __exit__(self, *exc: object) -> None:
        if self.sqlite is not None:
            self.sqlite.execute("ROLLBACK")
            self.sqlite.close()
        if self.mariadb is not None:
            self.mariadb.execute(text("UNLOCK TABLES"))
            self.mariadb.close()
