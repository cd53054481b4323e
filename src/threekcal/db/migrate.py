"""Alembic migrations run from Python, so no alembic.ini lookup depends on the working directory."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from threekcal.db import deferred_indexes
from threekcal.db.session import engine_for, refresh_planner_statistics

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate to ``revision``; at the head, also build any index of ``comments`` that an import set aside
    and could not put back (it was killed: deferred_indexes)."""
    command.upgrade(alembic_config(url), revision)
    if revision == "head":
        with engine_for(url).begin() as connection:
            deferred_indexes.restore(connection)
    refresh_planner_statistics(url)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def current_revision_for(url: str) -> str | None:
    return current_revision(engine_for(url))
