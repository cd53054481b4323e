"""Imported comments' receipts lead with the request time's hour.

``threekcal import`` derives a comment's receipt from its content (user, request time, text), so that
importing the same file twice stores nothing new. Since this revision the receipt is the request time's
hour (YYYYMMDDHH) and 22 characters of the content's hash, instead of 32 characters of the hash: a
source in time order then writes the unique receipt index near its end (SQLite stores imported rows about
1.5x as fast). Comments imported before keep working for idempotency only if their receipts are rewritten
to the new form, which this revision does: a receipt equal to the old form computed from the row's own
content is an imported one (an API receipt is random and cannot match). Downgrading writes them back.

Revision ID: 0009_import_receipts
Revises: 0008_import_indexes
Create Date: 2026-11-30
"""

import base64
import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime

from alembic import op
from sqlalchemy import text

revision: str = "0009_import_receipts"
down_revision: str | None = "0008_import_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The two receipt forms as at this revision (later changes to threekcal.db.importing must not move them).
DOMAIN = b"threekcal-import\x00"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
BATCH = 10_000


def _digest(user: str, time_text: str, comment: str) -> bytes:
    content = "\x00".join((user, time_text, comment)).encode("utf-8", "surrogatepass")
    return hashlib.sha256(DOMAIN + content).digest()


def hashed_receipt(user: str, time_text: str, comment: str) -> str:
    """Up to 0008: 24 bytes of the hash, URL-safe base64 (32 characters)."""
    return base64.urlsafe_b64encode(_digest(user, time_text, comment)[:24]).decode()


def hour_first_receipt(user: str, time_text: str, comment: str) -> str:
    """From 0009: the hour (10 digits) and the first 22 characters of the hash's URL-safe base64."""
    hour = time_text[0:4] + time_text[5:7] + time_text[8:10] + time_text[11:13]
    return hour + base64.urlsafe_b64encode(_digest(user, time_text, comment)).decode()[:22]


Receipt = Callable[[str, str, str], str]


def _rewrite(old: Receipt, new: Receipt) -> None:
    """Every comment whose receipt is ``old`` of its own content gets ``new`` of it, in batches by num."""
    connection = op.get_bind()
    last = 0
    while True:
        rows = connection.execute(
            text(
                "SELECT num, receipt, request_user, request_time, comments FROM comments"
                " WHERE num > :last ORDER BY num LIMIT :batch"
            ),
            {"last": last, "batch": BATCH},
        ).all()
        if not rows:
            return
        last = rows[-1].num
        changes = []
        for row in rows:
            when = row.request_time
            time_text = when.strftime(TIME_FORMAT) if isinstance(when, datetime) else str(when)
            if row.receipt == old(row.request_user, time_text, row.comments):
                changes.append({"num": row.num, "receipt": new(row.request_user, time_text, row.comments)})
        if changes:
            connection.execute(text("UPDATE comments SET receipt = :receipt WHERE num = :num"), changes)


def upgrade() -> None:
    _rewrite(hashed_receipt, hour_first_receipt)


def downgrade() -> None:
    _rewrite(hour_first_receipt, hashed_receipt)
