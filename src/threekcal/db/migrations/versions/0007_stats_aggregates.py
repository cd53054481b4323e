"""Statistics aggregates: counts kept in the same transaction as every write (db/aggregates.py).

The tables are filled from the existing comments at upgrade (``aggregates_check.rebuild``); later writes
keep them current, ``threekcal stats verify`` compares them with a recomputation from the rows.

Revision ID: 0007_stats_aggregates
Revises: 0006_audit_sample
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_stats_aggregates"
down_revision: str | None = "0006_audit_sample"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MARIADB = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci", "mysql_engine": "InnoDB"}
LABELS = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")  # as at this revision
PREDICTED = tuple(f"predicted_{label}" for label in LABELS)
HOURLY_COUNTS = (
    "total",
    "pending",
    "labeled",
    "scored",
    "correct",
    "audit_scored",
    "audit_correct",
    *PREDICTED,
)
TABLES = ("stats_hourly", "stats_model_hourly", "stats_users", "stats_labels", "stats_scores", "stats_curves")


def _key(name: str, length: int | None = None) -> sa.Column:
    kind = sa.String(length) if length else sa.Integer()
    return sa.Column(name, kind, primary_key=True, autoincrement=False, nullable=False)


def _count(name: str) -> sa.Column:
    return sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")


def upgrade() -> None:
    op.create_table(
        "stats_hourly",
        _key("scope", 64), _key("hour"), *(_count(name) for name in HOURLY_COUNTS), **MARIADB,
    )  # fmt: skip
    op.create_table(
        "stats_model_hourly",
        _key("hour"), _key("model_version", 255), *(_count(name) for name in PREDICTED), **MARIADB,
    )  # fmt: skip
    op.create_table(
        "stats_users",
        _key("request_user", 64),
        *(_count(name) for name in ("total", "labeled", "scored", "correct")),
        **MARIADB,
    )
    op.create_index("ix_stats_users_total", "stats_users", ["total"])
    op.create_table(
        "stats_labels",
        _key("scope", 64), _key("label_source", 16), _key("audit"), _key("label", 16), _key("prediction", 16),
        _key("bin"), _count("n"), _count("confidence_nano"),
        **MARIADB,
    )  # fmt: skip
    op.create_table(
        "stats_scores", _key("scope", 64), _key("prediction", 16), _key("bin"), _count("n"), **MARIADB
    )
    op.create_table(
        "stats_curves",
        _key("scope", 64), _key("label_source", 16), _key("curve_label", 16), _key("bin"),
        _count("n"), _count("positives"),
        **MARIADB,
    )  # fmt: skip
    from threekcal.db import aggregates_check  # recomputes by the one place of the counting rules

    aggregates_check.rebuild(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_stats_users_total", table_name="stats_users")
    for name in reversed(TABLES):
        op.drop_table(name)
