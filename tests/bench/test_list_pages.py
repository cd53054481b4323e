"""bench/list_pages.py: the rows the database generates itself, and the pages it compares (the steered
page must hold the same rows as the database's own plan, or the benchmark stops)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from bench_scripts import load_bench
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from threekcal.db.models import Comment
from threekcal.db.session import engine_for
from threekcal.emotions import LABELS

ROWS = 3000


@pytest.fixture(scope="module")
def list_pages():  # type: ignore[no-untyped-def]
    return load_bench("list_pages")


def test_generated_rows_span_the_year_and_every_time_range_page_matches_the_own_plan(
    list_pages, db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(list_pages, "BATCH", 1000)  # three batches
    monkeypatch.setattr(list_pages, "STEP_SECONDS", 10_000)  # 3,000 rows over the year, as 10M at 3 s
    engine = engine_for(db_url)
    with Session(engine) as session:
        session.execute(delete(Comment))
        session.commit()
    list_pages.generate(engine, ROWS)
    with Session(engine) as session:
        rows = session.scalars(select(Comment).order_by(Comment.num)).all()
        assert [row.num for row in rows] == list(range(1, ROWS + 1))
        start = datetime(2024, 1, 1, tzinfo=UTC)
        for row in rows[:: ROWS // 30]:
            offset = (row.num - 1) * 10_000 + (row.num * 13) % 10_000
            assert row.request_time == start + timedelta(seconds=offset)
            assert (row.prediction_result is not None) == (row.num % 5 != 0)
            assert row.prediction_result is None or row.prediction_result in LABELS
            assert (row.label in LABELS) == ((row.num * 17) % 5 == 0)
        users = session.scalar(select(func.count(func.distinct(Comment.request_user))))
        assert users == ROWS  # 7919 is prime to 5000: 3,000 numbers give 3,000 users
    list_pages.measure(engine, repeat=1, baseline_repeat=1)
    printed = capsys.readouterr().out
    assert printed.count("ms [") == 2 * len(list_pages.TIME_CASES)
