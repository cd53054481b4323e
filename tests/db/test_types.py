"""Times go in and come out as aware UTC on both backends; text round-trips byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from threekcal.db.models import Comment
from threekcal.db.session import session_scope


def test_times_are_stored_in_utc_and_returned_aware(db_url: str) -> None:
    seoul = timezone(timedelta(hours=9))
    submitted = datetime(2026, 11, 24, 9, 30, 15, 123456, tzinfo=seoul)
    with session_scope(db_url) as session:
        session.add(Comment(comments="x", request_user="u", request_time=submitted, receipt="r1"))
    with session_scope(db_url) as session:
        stored = session.scalars(select(Comment)).one()
    assert stored.request_time == submitted
    assert stored.request_time.tzinfo == UTC
    assert stored.request_time.hour == 0


def test_naive_times_are_refused(db_url: str) -> None:
    with pytest.raises(Exception, match="naive datetime"), session_scope(db_url) as session:
        session.add(Comment(comments="x", request_user="u", request_time=datetime(2026, 1, 1), receipt="r2"))
        session.flush()


@pytest.mark.parametrize(
    "text",
    ["오늘 정말 행복해요 😀", "🤬🤢😨😀😐😭😲", "'; DROP TABLE comments; --", "<script>alert(1)</script>"],
)
def test_unicode_and_hostile_text_round_trip(db_url: str, text: str) -> None:
    with session_scope(db_url) as session:
        session.add(
            Comment(comments=text, request_user="사용자", request_time=datetime.now(UTC), receipt="r3")
        )
    with session_scope(db_url) as session:
        stored = session.scalars(select(Comment)).one()
    assert (stored.comments, stored.request_user) == (text, "사용자")
