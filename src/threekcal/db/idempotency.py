"""POST /comments with an Idempotency-Key: the key is stored in the same transaction as the comment, so
a retry (after a timeout, a 503, a crash) finds either both or neither, and the unique key lets nothing
slip between two concurrent tries."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from threekcal.db import aggregates
from threekcal.db.models import Comment, IdempotencyKey
from threekcal.db.queries import is_deadlock, new_receipt, serialized_writes
from threekcal.db.types import utcnow

_INSERT_COMMENT = insert(Comment.__table__)
_INSERT_KEY = insert(IdempotencyKey.__table__)


class IdempotencyKeyReusedError(ValueError):
    """The key was already used, within the replay window, for a different request."""


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def request_fingerprint(request_user: str, text: str) -> str:
    return _sha256(json.dumps([request_user, text], ensure_ascii=False))


def insert_comment_once(
    session: Session, *, request_user: str, text: str, key: str, window: timedelta
) -> tuple[Comment, bool]:
    """The comment made for ``key`` and whether it is a replay: the first call inserts the comment and
    the key in one transaction; a later one with the same body, within ``window``, returns the original
    (as it was answered: no prediction yet) and stores nothing. A different body raises
    IdempotencyKeyReusedError."""
    key_hash = _sha256(key)
    fingerprint = request_fingerprint(request_user, text)
    for attempt in range(2):
        with serialized_writes(session):
            connection = session.connection()
            now = utcnow()
            found = session.execute(
                select(IdempotencyKey.request_hash, Comment).join(Comment, Comment.num == IdempotencyKey.num)
                .where(IdempotencyKey.key_hash == key_hash, IdempotencyKey.created_at >= now - window)
            ).first()  # fmt: skip
            if found is not None:
                original = _as_answered(found.Comment)
                session.rollback()
                if found.request_hash != fingerprint:
                    raise IdempotencyKeyReusedError("Idempotency-Key already used for a different request")
                return original, True
            # An expired use of the key no longer counts. Only an expired one: a use not yet visible here
            # (its transaction still committing, say on a server that was frozen) must stay, so that the
            # unique key refuses this second insert and the retry below answers as the first did.
            connection.execute(
                delete(IdempotencyKey).where(
                    IdempotencyKey.key_hash == key_hash, IdempotencyKey.created_at < now - window
                )
            )
            values = {
                "comments": text,
                "request_user": request_user,
                "request_time": now,
                "receipt": new_receipt(),
            }
            try:
                num = connection.execute(_INSERT_COMMENT, values).inserted_primary_key[0]
                connection.execute(
                    _INSERT_KEY,
                    {"key_hash": key_hash, "request_hash": fingerprint, "num": num, "created_at": now},
                )
                # Counted last: the comment and its key are locked before any aggregate row (lock order).
                aggregates.add_comments(connection, [values])
                session.commit()
            except OperationalError as error:
                session.rollback()  # a deadlock victim (MariaDB 1213) is rolled back whole: run it again
                if attempt or not is_deadlock(error):
                    raise
                continue
            except IntegrityError:
                session.rollback()  # a concurrent request with the same key committed first: answer as it did
                if attempt:
                    raise
                continue
            return Comment(num=num, **values), False
    raise AssertionError("unreachable")  # pragma: no cover


def _as_answered(comment: Comment) -> Comment:
    """The comment as POST /comments answered it first: no prediction or label yet."""
    return Comment(
        num=comment.num,
        comments=comment.comments,
        request_user=comment.request_user,
        request_time=comment.request_time,
        receipt=comment.receipt,
    )


def prune_expired(session: Session, older_than: datetime) -> int:
    """Deletes keys made before ``older_than``; the number deleted."""
    with serialized_writes(session):
        deleted = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < older_than))
        session.commit()
    return int(getattr(deleted, "rowcount", 0) or 0)
