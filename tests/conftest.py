"""Shared fixtures: a migrated database per backend (SQLite file and a fresh MariaDB database),
settings pointing at it, and the tiny offline test model.

Tests that take ``database_url`` (or anything built on it) run once on SQLite and once on MariaDB.
MariaDB tests skip only outside CI, and say why; under CI (or THREEKCAL_TEST_REQUIRE_MARIADB=1) an
unreachable server is an error, never a silent skip.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from threekcal.db import migrate
from threekcal.db.models import Base
from threekcal.db.session import engine_for
from threekcal.settings import Settings

MARIADB_SERVER_URL = os.environ.get(
    "THREEKCAL_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/?charset=utf8mb4"
)
ADMIN_TOKEN = "test-admin-token-0123456789"


def mariadb_required() -> bool:
    return bool(os.environ.get("CI")) or os.environ.get("THREEKCAL_TEST_REQUIRE_MARIADB") == "1"


def _mariadb_server_or_skip() -> None:
    try:
        engine = create_engine(MARIADB_SERVER_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        message = f"MariaDB at {MARIADB_SERVER_URL} is unreachable: {exc}"
        if mariadb_required():
            pytest.fail(message + " (CI requires it; .ci/run starts it)", pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="session")
def mariadb_server_url() -> Iterator[str]:
    """A fresh, empty MariaDB database for this test session; dropped at the end."""
    _mariadb_server_or_skip()
    name = f"threekcal_test_{secrets.token_hex(4)}"
    admin = create_engine(MARIADB_SERVER_URL)
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    url = make_url(MARIADB_SERVER_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    engine_for.cache_clear()
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database at head, once per backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'threekcal.db'}"
    else:
        url = request.getfixturevalue("mariadb_server_url")
    migrate.upgrade(url)
    return url


@pytest.fixture
def db_url(database_url: str) -> str:
    """``database_url`` emptied before the test."""
    engine = engine_for(database_url)
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    return database_url


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        database_url=db_url,
        admin_token=ADMIN_TOKEN,
        log_dir=tmp_path / "logs",
        cache_dir=tmp_path / "cache",
        _env_file=None,
    )


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The offline test model (random weights, distilroberta architecture, tiny size)."""
    from threekcal.model.testmodel import build_test_model

    cache = os.environ.get("THREEKCAL_TEST_MODEL_CACHE")
    target = Path(cache) / "tiny" if cache else tmp_path_factory.mktemp("models") / "tiny"
    if not (target / "config.json").exists():
        build_test_model(target, size="tiny")
    return target
