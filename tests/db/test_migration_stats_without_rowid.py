"""Migration 0010 makes SQLite's aggregate tables WITHOUT ROWID, keeping their rows and indexes, and back."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text

from threekcal.db import aggregates, migrate
from threekcal.db.models import Base

BEFORE = "0009_import_receipts"


def rowid_tables(url: str) -> dict[str, bool]:
    """Each aggregate table: whether it still has a rowid."""
    with create_engine(url).connect() as connection:
        rows = connection.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND substr(name, 1, 6) = 'stats_'")
        ).all()
    return {name: not sql.rstrip().endswith("WITHOUT ROWID") for name, sql in rows}


def contents(url: str) -> dict[str, list[tuple[object, ...]]]:
    with create_engine(url).connect() as connection:
        return {
            table.name: sorted(tuple(row) for row in connection.execute(table.select()))
            for table in aggregates.TABLES
        }


def test_the_aggregate_tables_lose_their_rowid_and_keep_their_rows_both_ways(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'stats.db'}"
    migrate.upgrade(url, BEFORE)
    assert set(rowid_tables(url).values()) == {True}
    with create_engine(url).begin() as connection:
        connection.execute(
            text(
                "INSERT INTO stats_users (request_user, total, labeled, scored, correct)"
                " VALUES ('ana', 3, 1, 1, 0), ('bo', 5, 2, 2, 1)"
            )
        )
        for insert in (
            "INSERT INTO stats_hourly (scope, hour, total, pending) VALUES ('', 480000, 8, 2)",
            "INSERT INTO stats_scores (scope, prediction, bin, n) VALUES ('ana', 'joy', 3, 4)",
        ):
            connection.execute(text(insert))
    before = contents(url)

    migrate.upgrade(url)
    tables = rowid_tables(url)
    assert sorted(tables) == sorted(table.name for table in aggregates.TABLES)
    assert set(tables.values()) == {False}
    assert contents(url) == before
    with create_engine(url).connect() as connection:
        plan = connection.execute(
            text("EXPLAIN QUERY PLAN SELECT request_user FROM stats_users ORDER BY total DESC LIMIT 3")
        ).all()
    assert "ix_stats_users_total" in str(plan)  # the index came along

    migrate.downgrade(url, BEFORE)
    assert set(rowid_tables(url).values()) == {True}
    assert contents(url) == before


def test_the_models_create_the_same_tables_as_the_migrations(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'models.db'}"
    Base.metadata.create_all(create_engine(url))
    assert set(rowid_tables(url).values()) == {False}
