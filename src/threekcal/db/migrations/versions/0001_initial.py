"""Initial schema: comments, label audit, prediction batches.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from threekcal.db.types import UTCDateTime
from threekcal.emotions import LABELS

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MARIADB = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci", "mysql_engine": "InnoDB"}


def upgrade() -> None:
    op.create_table(
        "comments",
        sa.Column("num", BigId, primary_key=True, autoincrement=True),
        sa.Column("comments", sa.Text(), nullable=False),
        sa.Column("request_user", sa.String(64), nullable=False),
        sa.Column("request_time", UTCDateTime(), nullable=False),
        sa.Column("receipt", sa.String(64), nullable=False),
        sa.Column("prediction_result", sa.String(16)),
        sa.Column("prediction_score", sa.Double()),
        sa.Column("prediction_scores", sa.JSON()),
        sa.Column("prediction_time", UTCDateTime()),
        sa.Column("model_version", sa.String(255)),
        sa.Column("label", sa.String(16)),
        sa.Column("remark", sa.String(500)),
        sa.Column("labeled_by", sa.String(64)),
        sa.Column("labeled_at", UTCDateTime()),
        *(
            sa.Column(
                f"score_{label}",
                sa.Double(),
                sa.Computed(f"json_extract(prediction_scores, '$.{label}')", persisted=True),
            )
            for label in LABELS
        ),
        sa.UniqueConstraint("receipt", name="uq_comments_receipt"),
        **MARIADB,
    )
    op.create_index("ix_comments_request_user_num", "comments", ["request_user", "num"])
    op.create_index("ix_comments_user_labels", "comments", ["request_user", "label", "prediction_result"])
    op.create_index("ix_comments_request_time", "comments", ["request_time", "prediction_result", "label"])
    op.create_index("ix_comments_prediction_result", "comments", ["prediction_result", "prediction_score"])
    op.create_index(
        "ix_comments_label",
        "comments",
        ["label", "prediction_result", "prediction_score", *(f"score_{label}" for label in LABELS)],
    )
    op.create_index("ix_comments_score_num", "comments", ["prediction_score", "num"])
    op.create_index("ix_comments_prediction_time", "comments", ["prediction_time"])

    op.create_table(
        "label_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("num", BigId, sa.ForeignKey("comments.num", ondelete="CASCADE"), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("changed_by", sa.String(64), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.Column("old_label", sa.String(16)),
        sa.Column("new_label", sa.String(16)),
        sa.Column("old_remark", sa.String(500)),
        sa.Column("new_remark", sa.String(500)),
        **MARIADB,
    )
    op.create_index("ix_label_events_num", "label_events", ["num"])

    op.create_table(
        "prediction_batches",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("log_path", sa.String(1024), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("model_version", sa.String(255)),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("predict_seconds", sa.Float()),
        sa.Column("applied_at", UTCDateTime()),
        sa.Column("applied_rows", sa.Integer()),
        sa.Column("unknown_nums", sa.Integer()),
        sa.Column("quarantined", sa.Integer()),
        sa.Column("apply_seconds", sa.Float()),
        sa.Column("engine", sa.String(16)),
        sa.Column("details", sa.JSON()),
        sa.Column("note", sa.Text()),
        **MARIADB,
    )
    op.create_index("ix_prediction_batches_applied_at", "prediction_batches", ["applied_at"])


def downgrade() -> None:
    op.drop_table("prediction_batches")
    op.drop_table("label_events")
    op.drop_table("comments")
