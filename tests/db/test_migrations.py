"""The migrations build exactly the schema the models describe, on SQLite and on MariaDB."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from threekcal.db import migrate
from threekcal.db.models import Base
from threekcal.db.session import engine_for


def test_database_is_at_head(database_url: str) -> None:
    assert migrate.current_revision_for(database_url) == migrate.head_revision()


def test_models_match_migrations(database_url: str) -> None:
    with engine_for(database_url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_comment_columns_keep_their_names(database_url: str) -> None:
    columns = {c["name"] for c in inspect(engine_for(database_url)).get_columns("comments")}
    legacy = {
        "num",
        "comments",
        "request_user",
        "request_time",
        "prediction_result",
        "prediction_score",
        "prediction_time",
        "label",
        "remark",
    }
    assert legacy <= columns
    assert {"prediction_scores", "model_version", "labeled_by", "labeled_at"} <= columns


def test_filter_indexes_exist(database_url: str) -> None:
    indexed = [
        tuple(index["column_names"]) for index in inspect(engine_for(database_url)).get_indexes("comments")
    ]
    # each list filter and sort must lead some index
    for columns in [("request_user", "num"), ("label",), ("prediction_result",), ("prediction_score", "num")]:
        assert any(index[: len(columns)] == columns for index in indexed), columns


@pytest.mark.mariadb
def test_mariadb_tables_are_utf8mb4(mariadb_server_url: str) -> None:
    """MariaDB only (SQLite has no collations to check): every table the migrations create is utf8mb4."""
    migrate.upgrade(mariadb_server_url)
    engine = engine_for(mariadb_server_url)
    with engine.connect() as connection:
        collations = connection.execute(
            text(
                "SELECT table_name, table_collation FROM information_schema.tables"
                " WHERE table_schema = DATABASE()"
            )
        ).all()
    assert collations
    assert all(collation.startswith("utf8mb4") for _, collation in collations)


def test_downgrade_then_upgrade_round_trips(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    migrate.upgrade(url)
    migrate.downgrade(url, "base")
    assert "comments" not in inspect(engine_for(url)).get_table_names()
    migrate.upgrade(url)
    assert "comments" in inspect(engine_for(url)).get_table_names()


def test_sqlite_plans_least_confident_unlabeled_pages_on_the_score_index(tmp_path) -> None:
    """Without ANALYZE SQLite reads every unlabeled row through the label index and sorts them."""
    from datetime import UTC, datetime

    from threekcal.db.models import Comment
    from threekcal.db.session import refresh_planner_statistics

    url = f"sqlite:///{tmp_path / 'plans.db'}"
    migrate.upgrade(url)
    now = datetime.now(UTC)
    rows = [
        {"comments": f"c{i}", "request_user": "u", "request_time": now, "receipt": f"r{i}",
         "prediction_score": (i % 97) / 97, "label": "joy" if i % 5 == 0 else None}
        for i in range(2000)
    ]  # fmt: skip
    with engine_for(url).begin() as connection:
        connection.execute(Comment.__table__.insert(), rows)
    page = (
        "EXPLAIN QUERY PLAN SELECT num FROM comments WHERE label IS NULL "
        "ORDER BY prediction_score, num LIMIT 50"
    )
    refresh_planner_statistics(url)
    with engine_for(url).connect() as connection:
        plan = " ".join(str(row[-1]) for row in connection.exec_driver_sql(page))
    assert "ix_comments_score_num" in plan and "TEMP B-TREE" not in plan
