"""Keyset pages of GET /comments stay exact with the planner steering of db/queries.py (a small probe
window, so that probes, fall-backs past the window and empty windows all happen)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, event
from sqlalchemy.orm import Session

from threekcal.db import queries
from threekcal.db.models import REQUEST_TIME_INDEX, Comment
from threekcal.db.queries import CommentFilter
from threekcal.db.session import engine_for
from threekcal.emotions import LABELS

START = datetime(2025, 1, 1, tzinfo=UTC)
LATE_WITH_EARLY_TIMES = 4  # the newest rows: stored last, with times among the oldest

FILTERS = [
    CommentFilter(),
    CommentFilter(labeled=False),
    CommentFilter(labeled=True),
    CommentFilter(predicted=False),
    CommentFilter(label="joy"),
    CommentFilter(label="surprise"),  # rare: only in the oldest rows, past every probe window
    CommentFilter(prediction_result="fear"),
    CommentFilter(label="joy", prediction_result="anger"),
    CommentFilter(min_score=0.3, max_score=0.6),
    CommentFilter(min_score=0.99, max_score=1.0),  # no match at all
    CommentFilter(label_sources=("chosen",)),
    CommentFilter(request_user="u1", labeled=True),
    # Time ranges (steered on MariaDB): inside, overlapping the newest rows, older than every probe window,
    # and with the late rows stored with early times (numbers do not follow time there).
    CommentFilter(since=START + timedelta(minutes=20), until=START + timedelta(minutes=30)),
    CommentFilter(since=START + timedelta(minutes=50)),
    CommentFilter(until=START + timedelta(minutes=8)),
    CommentFilter(until=START + timedelta(minutes=8), label="surprise"),
    CommentFilter(since=START + timedelta(minutes=90)),  # no match at all
]


def _expected(rows: list[Comment], flt: CommentFilter, sort: str) -> list[int]:
    def keep(row: Comment) -> bool:
        checks = [
            flt.labeled is None or (row.label is not None) == flt.labeled,
            flt.predicted is None or (row.prediction_result is not None) == flt.predicted,
            flt.label is None or row.label == flt.label,
            flt.prediction_result is None or row.prediction_result == flt.prediction_result,
            flt.min_score is None
            or (row.prediction_score is not None and row.prediction_score >= flt.min_score),
            flt.max_score is None
            or (row.prediction_score is not None and row.prediction_score <= flt.max_score),
            not flt.label_sources or row.label_source in flt.label_sources,
            flt.request_user is None or row.request_user == flt.request_user,
            flt.since is None or row.request_time >= flt.since,
            flt.until is None or row.request_time < flt.until,
        ]
        return all(checks)

    kept = [row for row in rows if keep(row)]
    if sort == "least_confident":
        scored = sorted(
            (r for r in kept if r.prediction_score is not None), key=lambda r: (r.prediction_score, r.num)
        )
        return [r.num for r in scored] + sorted(r.num for r in kept if r.prediction_score is None)
    return sorted((r.num for r in kept), reverse=sort == "newest")


@pytest.mark.parametrize("sort", ["newest", "oldest", "least_confident"])
def test_every_filter_pages_through_exactly_the_matching_rows(
    db_url: str, sort: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queries, "PROBE_ROWS", 5)
    rng = random.Random(3)
    with Session(engine_for(db_url)) as session:
        session.execute(delete(Comment))
        rows = []
        for i in range(60):
            predicted = rng.random() < 0.7
            label = "surprise" if i < 3 else (rng.choice(LABELS[:4]) if rng.random() < 0.4 else None)
            rows.append(
                Comment(
                    comments=f"c{i}",
                    request_user=f"u{i % 3}",
                    request_time=START + timedelta(minutes=i if i < 60 - LATE_WITH_EARLY_TIMES else i - 55),
                    receipt=f"r{i}",
                    prediction_result=rng.choice(LABELS[:4]) if predicted else None,
                    prediction_score=round(rng.uniform(0.1, 0.9), 2) if predicted else None,
                    label=label,
                    label_source=("chosen" if rng.random() < 0.5 else "accepted") if label else None,
                )
            )
        session.add_all(rows)
        session.commit()
        for row in rows:
            session.refresh(row)
        for flt in FILTERS:
            seen: list[int] = []
            after = None
            while True:
                page = queries.list_comments(session, flt, sort=sort, limit=4, after=after)  # type: ignore[arg-type]
                seen += [item.num for item in page.items]
                if page.next_key is None:
                    break
                after = page.next_key
            assert seen == _expected(rows, flt, sort), flt


@pytest.mark.parametrize(
    ("first", "last", "plan"),
    [(3, 5, REQUEST_TIME_INDEX), (25, 29, "PRIMARY")],
    ids=["far from the newest: the time index", "among the newest: the primary key"],
)
def test_mariadb_picks_the_plan_of_a_time_range_page_by_where_the_range_lies(
    db_url: str, first: int, last: int, plan: str
) -> None:
    """MariaDB plans ORDER BY num LIMIT over a time range as a walk down the primary key: at 10M comments
    a day in the middle of the year took seconds that way. The page reads that range through the time
    index instead; a range among the newest comments is still walked."""
    engine = engine_for(db_url)
    with Session(engine) as session:
        session.execute(delete(Comment))
        session.add_all(
            Comment(
                comments=f"c{i}", request_user="u", request_time=START + timedelta(minutes=i), receipt=f"r{i}"
            )
            for i in range(30)
        )
        session.commit()
        statements: list[str] = []

        def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            statements.append(statement)

        flt = CommentFilter(since=START + timedelta(minutes=first), until=START + timedelta(minutes=last + 1))
        event.listen(engine, "before_cursor_execute", seen)
        try:
            page = queries.list_comments(session, flt, sort="newest", limit=10)
        finally:
            event.remove(engine, "before_cursor_execute", seen)
    assert [item.comments for item in page.items] == [f"c{i}" for i in range(last, first - 1, -1)]
    ordered_by_number = [sql for sql in statements if "ORDER BY comments.num DESC" in sql]
    hinted = [sql for sql in ordered_by_number if f"FORCE INDEX ({plan})" in sql]
    assert len(hinted) == (0 if engine.dialect.name == "sqlite" else 1), statements
