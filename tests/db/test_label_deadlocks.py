"""Writes survive being a deadlock victim (SQLite and MariaDB).

MariaDB rolls a deadlock victim (error 1213) back whole; the label writes, like the insert of a comment,
then run again through ``queries.write_retrying_deadlocks``. The deadlock is injected once by an engine
event on a chosen table's first write (the product code runs unchanged), and on MariaDB also made for
real by a second connection that takes the comment locks in the opposite order: afterwards the label is
written exactly once and the aggregates still equal a recomputation from the rows."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, insert, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from threekcal.db import aggregates_check, labels, queries, stats, stats_recompute
from threekcal.db.models import Comment, LabelEvent, User
from threekcal.db.session import engine_for, session_factory
from threekcal.db.types import utcnow
from waiting import wait_until

MARIADB_LOCK_WAIT_TIMEOUT = 1205
DEADLOCK_MESSAGE = "Deadlock found when trying to get lock; try restarting transaction"


class FailingWrites:
    """Makes the first ``times`` statements that write ``table`` fail with the database error ``code``
    (the driver's own OperationalError, as the server would answer), before they reach the database."""

    def __init__(self, engine: Engine, table: str, *, times: int = 1, code: int = queries.MARIADB_DEADLOCK):
        self.engine = engine
        self.pattern = re.compile(rf"^\s*(INSERT\s+INTO|UPDATE)\s+`?{table}`?[\s(]", re.IGNORECASE)
        self.left = times
        self.code = code
        self.raised = 0

    def __enter__(self) -> FailingWrites:
        event.listen(self.engine, "before_cursor_execute", self._before)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)

    def _before(self, connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.left and self.pattern.match(statement):
            self.left -= 1
            self.raised += 1
            raise connection.dialect.loaded_dbapi.OperationalError(self.code, DEADLOCK_MESSAGE)


@dataclass(frozen=True)
class Person:
    id: int
    username: str


@dataclass
class Shop:
    """Two predicted comments of ana's and two people who label."""

    url: str
    nums: list[int]
    ann: Person
    ben: Person

    def session(self) -> Session:
        return session_factory(self.url)()

    def comment(self, num: int) -> Comment:
        with self.session() as session:
            comment = session.get(Comment, num)
            assert comment is not None
            return comment

    def events(self, action: str) -> int:
        with self.session() as session:
            return session.scalar(select(func.count()).where(LabelEvent.action == action)) or 0

    def assert_aggregates_equal_a_recomputation(self) -> None:
        with engine_for(self.url).connect() as connection:
            assert [difference.describe() for difference in aggregates_check.differences(connection)] == []
        with self.session() as session:
            kept = stats.stats_from_aggregates(session)
            recomputed = stats_recompute.compute_stats(session)
        assert kept["counts"] == recomputed["counts"]
        assert kept["per_user"] == recomputed["per_user"]


@pytest.fixture
def shop(db_url: str) -> Shop:
    with session_factory(db_url)() as session:
        nums = [queries.insert_comment(session, request_user="ana", text=text).num for text in ("a", "b")]
        people = [User(username=name, role="annotator") for name in ("ann", "ben")]
        session.add_all(people)
        session.flush()
        ann, ben = (Person(user.id, user.username) for user in people)
        for num in nums:
            comment = session.get(Comment, num)
            assert comment is not None
            comment.prediction_result, comment.prediction_score = "joy", 0.8
            comment.prediction_scores = {"joy": 0.8, "anger": 0.2}
            comment.prediction_time, comment.model_version = utcnow(), "test-model"
        session.commit()
    return Shop(db_url, nums, ann, ben)


def _set(shop: Shop, session: Session) -> None:
    labels.set_label(session, shop.nums[0], label="anger", by=shop.ann)


def _accept(shop: Shop, session: Session) -> None:
    result = labels.accept_predictions(session, shop.nums, by=shop.ann)
    assert (result.accepted, result.skipped) == (2, [])


def _undo(shop: Shop, session: Session) -> None:
    labels.undo(session, shop.nums[0], by=shop.ann)


def _resolve(shop: Shop, session: Session) -> None:
    labels.resolve(session, shop.nums[0], label="fear", remark=None, by=shop.ann, required=2)


WRITES: dict[str, tuple[Callable[[Shop, Session], None], str]] = {
    "set": (_set, "set"),
    "accept": (_accept, "accept"),
    "undo": (_undo, "undo"),
    "resolve": (_resolve, "resolve"),
}


def _prepare(shop: Shop, write: str) -> None:
    """What must be there before ``write``: a label to undo, a disagreement to resolve."""
    with shop.session() as session:
        if write == "undo":
            labels.set_label(session, shop.nums[0], label="anger", by=shop.ann)
        if write == "resolve":
            labels.set_label(session, shop.nums[0], label="joy", by=shop.ann, required=2)
            labels.set_label(session, shop.nums[0], label="anger", by=shop.ben, required=2)


@pytest.mark.parametrize("table", ["comments", "label_events", "stats_users"])
@pytest.mark.parametrize("write", list(WRITES))
def test_a_label_write_that_loses_a_deadlock_runs_again_once(shop: Shop, write: str, table: str) -> None:
    """The first write of the comment row, of its audit event or of an aggregate (the last) fails once."""
    _prepare(shop, write)
    run, action = WRITES[write]
    version_before = shop.comment(shop.nums[0]).label_version
    with shop.session() as session, FailingWrites(engine_for(shop.url), table) as failing:
        run(shop, session)
    assert failing.raised == 1
    changed = shop.nums if write == "accept" else shop.nums[:1]
    assert shop.events(action) == len(changed)  # written exactly once
    assert shop.comment(shop.nums[0]).label_version == version_before + 1
    expected = {"set": "anger", "accept": "joy", "undo": None, "resolve": "fear"}[write]
    assert [shop.comment(num).label for num in changed] == [expected] * len(changed)
    shop.assert_aggregates_equal_a_recomputation()


def test_a_comment_insert_that_loses_a_deadlock_runs_again_once(shop: Shop) -> None:
    with shop.session() as session, FailingWrites(engine_for(shop.url), "stats_users") as failing:
        queries.insert_comment(session, request_user="ana", text="c")
    assert failing.raised == 1
    with shop.session() as session:
        assert session.scalar(select(func.count()).where(Comment.comments == "c")) == 1
    shop.assert_aggregates_equal_a_recomputation()


def test_a_write_that_keeps_losing_gives_up_with_nothing_written(shop: Shop) -> None:
    attempts = queries.DEADLOCK_RETRIES + 1
    with (
        shop.session() as session,
        FailingWrites(engine_for(shop.url), "stats_users", times=attempts + 1) as failing,
        pytest.raises(sa_exc.OperationalError),
    ):
        _set(shop, session)
    assert failing.raised == attempts
    assert shop.events("set") == 0 and shop.comment(shop.nums[0]).label is None
    shop.assert_aggregates_equal_a_recomputation()


def test_a_lock_wait_timeout_is_not_retried(shop: Shop) -> None:
    """Only a deadlock victim runs again: a lock wait timeout already used the request's time."""
    with (
        shop.session() as session,
        FailingWrites(engine_for(shop.url), "comments", code=MARIADB_LOCK_WAIT_TIMEOUT) as failing,
        pytest.raises(sa_exc.OperationalError),
    ):
        _set(shop, session)
    assert failing.raised == 1
    assert shop.events("set") == 0 and shop.comment(shop.nums[0]).label is None
    shop.assert_aggregates_equal_a_recomputation()


@pytest.mark.mariadb
@pytest.mark.parametrize("database_url", ["mariadb"], indirect=True)
def test_a_real_deadlock_on_mariadb_makes_the_accept_run_again(shop: Shop) -> None:
    """Another transaction holds the second comment and then asks for the first, which a bulk accept
    (locking in number order) holds while it waits for the second: InnoDB breaks the cycle by rolling back
    the lighter transaction, the accept (the other has written rows); the accept runs again once the
    other transaction ends, and writes each label once."""
    first, second = shop.nums
    engine = engine_for(shop.url)
    deadlocks: list[int] = []

    def observe(context: Any) -> None:
        if queries.is_deadlock(context.sqlalchemy_exception):
            deadlocks.append(1)

    outcome: list[Any] = []

    def accept() -> None:
        try:
            with shop.session() as session:
                outcome.append(labels.accept_predictions(session, shop.nums, by=shop.ann))
        except Exception as error:  # handed to the test thread
            outcome.append(error)

    def accept_waits_for_a_lock() -> bool:
        with engine.connect() as probe:
            waiting = "SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'"
            return bool(probe.scalar(text(waiting)))

    event.listen(engine, "handle_error", observe)
    worker = threading.Thread(target=accept)
    try:
        with engine.connect() as other:
            other.execute(select(Comment.num).where(Comment.num == second).with_for_update())
            # Heavier than the accept (rows written, rolled back at the end): InnoDB's victim is the accept.
            other.execute(insert(User), [{"username": f"ballast{i}", "role": "annotator"} for i in range(50)])
            worker.start()
            wait_until(accept_waits_for_a_lock, what="the accept waiting for the second comment")
            other.execute(select(Comment.num).where(Comment.num == first).with_for_update())  # the cycle
            other.rollback()
        worker.join()
    finally:
        event.remove(engine, "handle_error", observe)
    [result] = outcome
    assert isinstance(result, labels.AcceptResult), result
    assert (result.accepted, result.skipped) == (2, [])
    assert deadlocks == [1]  # the accept lost once, for real
    assert shop.events("accept") == 2
    assert [shop.comment(num).label for num in shop.nums] == ["joy", "joy"]
    shop.assert_aggregates_equal_a_recomputation()
