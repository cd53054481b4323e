"""Accounts, personal API tokens, label provenance, several judgements per comment.

``users`` and ``api_tokens``: people who sign in (role admin | annotator, Argon2 password hash) and
their hashed personal tokens. ``comments.labeled_by_id``/``label_events.changed_by_id`` name the
author as an account, ``label_source`` says where a label came from (chosen | accepted |
bulk_accepted | resolved), ``comments.label_version`` counts label changes (the ETag of the label).
``judgements`` holds one label per person per comment when several annotators label each comment.

Existing data is kept: every name found in ``labeled_by``/``changed_by`` becomes an inactive annotator
account without a password (an admin activates it with a new password), and the labels and events are
attributed to it. Labels whose newest event was a bulk accept get ``bulk_accepted``, the others ``chosen``.

Revision ID: 0004_accounts_and_provenance
Revises: 0003_idempotency_keys
Create Date: 2026-11-30
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from threekcal.db.types import UTCDateTime

revision: str = "0004_accounts_and_provenance"
down_revision: str | None = "0003_idempotency_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MARIADB = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci", "mysql_engine": "InnoDB"}


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255)),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_login_at", UTCDateTime()),
        sa.UniqueConstraint("username", name="uq_users_username"),
        **MARIADB,
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("label", sa.String(100)),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime()),
        sa.Column("revoked_at", UTCDateTime()),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
        **MARIADB,
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    op.create_table(
        "judgements",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("num", BigId, sa.ForeignKey("comments.num", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("label", sa.String(16), nullable=False),
        sa.Column("remark", sa.String(500)),
        sa.Column("judged_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("num", "user_id", name="uq_judgements_num_user"),
        **MARIADB,
    )
    op.create_index("ix_judgements_num", "judgements", ["num"])
    op.create_index("ix_judgements_user_id", "judgements", ["user_id"])

    # Plain ALTER TABLE ADD COLUMN: a batch (copy-and-rename) migration of ``comments`` cannot copy
    # its generated score columns on SQLite; SQLite takes the foreign key only inside the column definition.
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, column, fk_name in (
        ("comments", "labeled_by_id", "fk_comments_labeled_by_id"),
        ("label_events", "changed_by_id", "fk_label_events_changed_by_id"),
    ):
        if sqlite:
            op.execute(
                f"ALTER TABLE {table} ADD COLUMN {column} INTEGER CONSTRAINT {fk_name} REFERENCES users (id)"
            )
        else:
            op.add_column(table, sa.Column(column, BigId))
        op.add_column(table, sa.Column("label_source", sa.String(16)))
        op.create_index(f"ix_{table}_{column}", table, [column])
        if not sqlite:
            op.create_foreign_key(fk_name, table, "users", [column], ["id"])
    op.add_column("comments", sa.Column("label_version", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_comments_label_source", "comments", ["label_source", "label"])

    attribute_existing_labels(op.get_bind())


def attribute_existing_labels(connection: sa.Connection) -> None:
    """Accounts for the names in the old free-text columns, and provenance for the existing labels."""
    meta = sa.MetaData()
    users = sa.Table("users", meta, autoload_with=connection)
    comments = sa.Table("comments", meta, autoload_with=connection)
    events = sa.Table("label_events", meta, autoload_with=connection)

    names = set(
        connection.scalars(sa.select(comments.c.labeled_by).where(comments.c.labeled_by.is_not(None)))
    )
    names |= set(connection.scalars(sa.select(events.c.changed_by).distinct()))
    # MariaDB compares usernames case-insensitively: names that differ only in case share one account.
    by_key: dict[str, str] = {}
    for name in sorted(names):
        by_key.setdefault(name.casefold(), name)
    now = datetime.now(UTC)
    ids: dict[str, int] = {}
    for key, name in by_key.items():
        result = connection.execute(
            users.insert().values(
                username=name, role="annotator", password_hash=None, active=False, created_at=now
            )
        )
        ids[key] = result.inserted_primary_key[0]

    event_source = sa.case((events.c.action == "accept", "bulk_accepted"), else_="chosen")
    for name in names:
        user_id = ids[name.casefold()]
        connection.execute(events.update().where(events.c.changed_by == name).values(changed_by_id=user_id))
        connection.execute(
            comments.update().where(comments.c.labeled_by == name).values(labeled_by_id=user_id)
        )
    connection.execute(
        events.update().where(events.c.new_label.is_not(None)).values(label_source=event_source)
    )

    # A label's source is the source of the newest event that set it; undone accepts stay accepts.
    newest = (
        sa.select(events.c.num, sa.func.max(events.c.id).label("id"))
        .where(events.c.new_label.is_not(None), events.c.action != "undo")
        .group_by(events.c.num)
        .subquery()
    )
    accepted = connection.scalars(
        sa.select(newest.c.num).join(events, events.c.id == newest.c.id).where(events.c.action == "accept")
    ).all()
    connection.execute(comments.update().where(comments.c.label.is_not(None)).values(label_source="chosen"))
    for start in range(0, len(accepted), 500):
        chunk = accepted[start : start + 500]
        connection.execute(
            comments.update()
            .where(comments.c.num.in_(chunk), comments.c.label.is_not(None))
            .values(label_source="bulk_accepted")
        )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.drop_index("ix_comments_label_source", "comments")
    op.drop_column("comments", "label_version")
    for table, column, fk_name in (
        ("comments", "labeled_by_id", "fk_comments_labeled_by_id"),
        ("label_events", "changed_by_id", "fk_label_events_changed_by_id"),
    ):
        if not sqlite:
            op.drop_constraint(fk_name, table, type_="foreignkey")
        op.drop_index(f"ix_{table}_{column}", table)
        op.drop_column(table, "label_source")
        op.drop_column(table, column)
    op.drop_table("judgements")
    op.drop_table("api_tokens")
    op.drop_table("users")
