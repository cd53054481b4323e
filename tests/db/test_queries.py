"""Comment queries on SQLite and MariaDB: inserts under concurrency, keyset order with ties and NULLs,
cursor encoding, batched iteration."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from threekcal.db import queries
from threekcal.db.models import Comment
from threekcal.db.queries import CommentFilter, InvalidCursorError
from threekcal.db.session import session_factory, session_scope

SCORES = [0.5, None, 0.25, 0.5, 0.75, None, 0.25, 0.5, 0.1, 0.9]


@pytest.fixture
def scored(db_url: str) -> list[int]:
    """Ten comments; scores with ties and NULLs, in an order unrelated to their numbers."""
    with session_scope(db_url) as session:
        rows = [
            Comment(
                comments=f"c{i}",
                request_user="u",
                request_time=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=i),
                receipt=f"r{i}",
                prediction_result=None if score is None else "joy",
                prediction_score=score,
            )
            for i, score in enumerate(SCORES)
        ]
        session.add_all(rows)
        session.flush()
        return [row.num for row in rows]


def test_insert_comment_returns_the_stored_row(db_url: str) -> None:
    with session_factory(db_url)() as session:
        comment = queries.insert_comment(session, request_user="kim", text="안녕 😀")
    with session_factory(db_url)() as session:
        stored = queries.get_comment_by_receipt(session, comment.receipt)
        assert stored is not None and stored.num == comment.num and stored.comments == "안녕 😀"
        assert stored.request_time.tzinfo is not None
        assert queries.get_comment(session, comment.num) is not None
        assert queries.get_comment(session, comment.num + 1) is None


def test_concurrent_inserts_all_land_once(db_url: str) -> None:
    """16 writers at once (the API's threadpool under load): no lost row, no error, unique receipts."""

    def write(worker: int) -> list[str]:
        receipts = []
        for i in range(25):
            with session_factory(db_url)() as session:
                receipts.append(
                    queries.insert_comment(session, request_user=f"w{worker}", text=f"{i}").receipt
                )
        return receipts

    with ThreadPoolExecutor(16) as pool:
        receipts = [r for batch in pool.map(write, range(16)) for r in batch]
    assert len(set(receipts)) == 400
    with session_scope(db_url) as session:
        assert session.scalar(select(func.count()).select_from(Comment)) == 400


def _walk(db_url: str, sort: queries.Sort, limit: int, flt: CommentFilter | None = None) -> list[int]:
    nums: list[int] = []
    after = None
    with session_factory(db_url)() as session:
        while True:
            page = queries.list_comments(session, flt or CommentFilter(), sort=sort, limit=limit, after=after)
            nums += [c.num for c in page.items]
            if page.next_key is None:
                return nums
            # the key goes through the cursor encoding, as it does over HTTP
            after = queries.decode_cursor(queries.encode_cursor(page.next_key), sort)


@pytest.mark.parametrize("limit", [1, 2, 3, 10, 11])
def test_least_confident_orders_by_score_then_number_nulls_last(
    db_url: str, scored: list[int], limit: int
) -> None:
    expected = [
        num
        for num, _ in sorted(zip(scored, SCORES, strict=True), key=lambda p: (p[1] is None, p[1] or 0, p[0]))
    ]
    assert _walk(db_url, "least_confident", limit) == expected


@pytest.mark.parametrize("limit", [1, 4, 10])
def test_newest_and_oldest(db_url: str, scored: list[int], limit: int) -> None:
    assert _walk(db_url, "newest", limit) == sorted(scored, reverse=True)
    assert _walk(db_url, "oldest", limit) == sorted(scored)


def test_least_confident_with_a_score_filter_never_reaches_unscored_rows(
    db_url: str, scored: list[int]
) -> None:
    nums = _walk(db_url, "least_confident", 2, CommentFilter(min_score=0.25, max_score=0.5))
    assert nums == [scored[i] for i in (2, 6, 0, 3, 7)]


def test_iter_comments_in_batches(db_url: str, scored: list[int]) -> None:
    with session_factory(db_url)() as session:
        nums = [c.num for c in queries.iter_comments(session, CommentFilter(), sort="oldest", batch_size=3)]
        assert nums == sorted(scored)
        assert queries.count_comments(session, CommentFilter(predicted=False)) == 2


@pytest.mark.parametrize(
    ("sort", "key"),
    [
        ("newest", [5]),
        ("oldest", [2**63 - 1]),
        ("least_confident", [0.25, 7]),
        ("least_confident", [None, 3]),
    ],
)
def test_cursor_round_trip(sort: queries.Sort, key: list) -> None:
    cursor = queries.encode_cursor(key)
    assert "=" not in cursor and "/" not in cursor and "+" not in cursor
    assert queries.decode_cursor(cursor, sort) == key


@pytest.mark.parametrize(
    ("sort", "cursor"),
    [("newest", ""), ("newest", "***"), ("newest", queries.encode_cursor([1, 2])), ("oldest", "bnVsbA")],
)
def test_invalid_cursors(sort: queries.Sort, cursor: str) -> None:
    with pytest.raises(InvalidCursorError):
        queries.decode_cursor(cursor, sort)


def test_list_users_counts_and_escapes_the_search(db_url: str) -> None:
    with session_scope(db_url) as session:
        for i, user in enumerate(["a_b", "axb", "a_b", "100%"]):
            session.add(
                Comment(comments="t", request_user=user, receipt=f"r{i}", label="joy" if i == 0 else None)
            )
    with session_factory(db_url)() as session:
        users = queries.list_users(session)
        assert [(u.request_user, u.comments, u.labeled) for u in users] == [
            ("a_b", 2, 1),
            ("100%", 1, 0),
            ("axb", 1, 0),
        ]
        assert [u.request_user for u in queries.list_users(session, q="_")] == ["a_b"]
        assert [u.request_user for u in queries.list_users(session, q="%")] == ["100%"]
        assert users[0].last_request_time is not None and users[0].last_request_time.tzinfo is not None
