"""Model registry: model versions, training jobs and the audit of registry actions.

Revision ID: 0005_model_registry
Revises: 0004_accounts_and_provenance
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from threekcal.db.types import UTCDateTime

revision: str = "0005_model_registry"
down_revision: str | None = "0004_accounts_and_provenance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MARIADB = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci", "mysql_engine": "InnoDB"}


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(1024), nullable=False),
        sa.Column("tag", sa.String(255)),
        sa.Column("parent_id", BigId, sa.ForeignKey("model_versions.id", ondelete="SET NULL")),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("training_data_hash", sa.String(64)),
        sa.Column("training_data_size", sa.Integer()),
        sa.Column("metrics", sa.JSON()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("promoted_at", UTCDateTime()),
        **MARIADB,
    )
    op.create_index("ix_model_versions_status", "model_versions", ["status", "promoted_at"])
    op.create_table(
        "training_jobs",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("params", sa.JSON()),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("log_tail", sa.Text()),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime()),
        sa.Column("heartbeat_at", UTCDateTime()),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("result_version_id", BigId, sa.ForeignKey("model_versions.id")),
        **MARIADB,
    )
    op.create_index("ix_training_jobs_state", "training_jobs", ["state", "id"])
    op.create_table(
        "registry_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("version_id", BigId, sa.ForeignKey("model_versions.id")),
        sa.Column("job_id", BigId, sa.ForeignKey("training_jobs.id")),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("details", sa.JSON()),
        **MARIADB,
    )


def downgrade() -> None:
    op.drop_table("registry_events")
    op.drop_table("training_jobs")
    op.drop_index("ix_model_versions_status", table_name="model_versions")
    op.drop_table("model_versions")
