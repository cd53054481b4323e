"""Pipeline: the num range a prediction log claims, and the staging table of the Spark merge.

``prediction_batches.num_min``/``num_max``: a registered, unapplied log claims the pending comments
in that range, so the next predict run does not score them again before the log is applied.
``prediction_staging``: the Spark apply writes a log's deduplicated records here (JDBC or
per-partition inserts, rows tagged with the log's ``run_id``) and merges them into ``comments`` in
one transaction that also deletes them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from threekcal.db.types import UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MARIADB = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci", "mysql_engine": "InnoDB"}


def upgrade() -> None:
    with op.batch_alter_table("prediction_batches") as batch:
        batch.add_column(sa.Column("num_min", BigId))
        batch.add_column(sa.Column("num_max", BigId))

    op.create_table(
        "prediction_staging",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("num", BigId, primary_key=True, autoincrement=False),
        sa.Column("prediction_result", sa.String(16), nullable=False),
        sa.Column("prediction_score", sa.Double(), nullable=False),
        sa.Column("prediction_scores", sa.JSON(), nullable=False),
        sa.Column("prediction_time", UTCDateTime(), nullable=False),
        sa.Column("model_version", sa.String(255), nullable=False),
        **MARIADB,
    )


def downgrade() -> None:
    op.drop_table("prediction_staging")
    with op.batch_alter_table("prediction_batches") as batch:
        batch.drop_column("num_max")
        batch.drop_column("num_min")
