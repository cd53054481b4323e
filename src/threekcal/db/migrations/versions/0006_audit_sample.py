"""Audit sample: comments labelled while served in the uniformly random "audit" queue.

Accuracy over all labels is biased by the labelling order (least confident first); accuracy over
the audit sample is not, and the model registry uses it as the held-out evaluation set.

Revision ID: 0006_audit_sample
Revises: 0005_model_registry
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_audit_sample"
down_revision: str | None = "0005_model_registry"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN: SQLite's batch mode would copy the table and cannot recreate its generated columns.
    op.add_column("comments", sa.Column("audit", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index("ix_comments_audit", "comments", ["audit", "label"])


def downgrade() -> None:
    op.drop_index("ix_comments_audit", table_name="comments")
    op.drop_column("comments", "audit")
