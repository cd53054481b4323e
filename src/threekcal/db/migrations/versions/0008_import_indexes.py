"""Fewer, narrower indexes on comments: those kept only for the full recomputation of the statistics.

Since 0007 the statistics read aggregate tables; ``db.stats_recompute.compute_stats`` (the recomputation of
before, used by the benchmark) still works, only slower. Each index costs every imported row a few
microseconds on SQLite (issue 12: `threekcal import` at 50,000 rows/s). Dropped:
``ix_comments_user_labels`` (request_user, label, prediction_result): the list pages filter by user with
``ix_comments_request_user_num``. Narrowed: ``ix_comments_label`` (label, prediction_result,
prediction_score, score_<label> x 7) to (label, prediction_result), which with the primary key after it
serves newest/oldest pages filtered by label and prediction result; ``ix_comments_request_time``
(request_time, prediction_result, label) to (request_time), what since/until need.

Revision ID: 0008_import_indexes
Revises: 0007_stats_aggregates
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008_import_indexes"
down_revision: str | None = "0007_stats_aggregates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LABELS = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")  # as at this revision


def upgrade() -> None:
    op.drop_index("ix_comments_user_labels", table_name="comments")
    op.drop_index("ix_comments_label", table_name="comments")
    op.create_index("ix_comments_label", "comments", ["label", "prediction_result"])
    op.drop_index("ix_comments_request_time", table_name="comments")
    op.create_index("ix_comments_request_time", "comments", ["request_time"])


def downgrade() -> None:
    op.drop_index("ix_comments_request_time", table_name="comments")
    op.create_index("ix_comments_request_time", "comments", ["request_time", "prediction_result", "label"])
    op.drop_index("ix_comments_label", table_name="comments")
    op.create_index(
        "ix_comments_label",
        "comments",
        ["label", "prediction_result", "prediction_score", *(f"score_{label}" for label in LABELS)],
    )
    op.create_index("ix_comments_user_labels", "comments", ["request_user", "label", "prediction_result"])
