"""A fresh, empty database per backend (SQLite file, new MariaDB database) for migration tests."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from threekcal.db.session import engine_for


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    server = request.getfixturevalue("mariadb_server_url")  # skips (or fails under CI) without MariaDB
    name = f"threekcal_mig_{secrets.token_hex(4)}"
    root = create_engine(make_url(server).set(database=""))
    with root.connect() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    yield url
    engine_for(url).dispose()
    with root.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    root.dispose()
