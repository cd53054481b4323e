"""The aggregates against their rows: recompute, differences (stats verify) and rebuild (stats rebuild),
on SQLite and MariaDB."""

from __future__ import annotations

from sqlalchemy import update

from threekcal.db import aggregates_check, queries
from threekcal.db.models import Comment
from threekcal.db.session import engine_for, session_factory


def test_a_change_the_counts_missed_is_found_cell_by_cell_and_rebuild_mends_it(db_url: str) -> None:
    with session_factory(db_url)() as session:
        nums = [queries.insert_comment(session, request_user="ana", text=f"text {i}").num for i in range(3)]
    engine = engine_for(db_url)
    with engine.connect() as connection:
        assert aggregates_check.differences(connection) == []
    with engine.begin() as connection:  # a Core write: not counted (as after a change by hand)
        connection.execute(update(Comment).where(Comment.num == nums[0]).values(request_user="bo"))
    with engine.connect() as connection:
        found = [difference.describe() for difference in aggregates_check.differences(connection)]
    assert "stats_users (request_user='bo'): total: 0 != 1" in found
    assert "stats_users (request_user='ana'): total: 3 != 2" in found
    steps: list[tuple[int, int]] = []
    with engine.begin() as connection:
        aggregates_check.rebuild(connection, chunk=2, progress=lambda *step: steps.append(step))
    assert steps[0] == (2, 3) and steps[-1] == (3, 3)  # read two rows at a time
    with engine.connect() as connection:
        assert aggregates_check.differences(connection) == []
