"""Reads and writes of comments the API (and the UI through it) needs: insert, look-ups, filtered
keyset pages, counts, the per-user table. Functions take a Session; writes commit their own transaction."""

from __future__ import annotations

import base64
import binascii
import json
import math
import secrets
import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import ColumnElement, Engine, and_, func, insert, or_, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import UnaryExpression
from sqlalchemy.sql.operators import custom_op

from threekcal.db import aggregates
from threekcal.db.models import REQUEST_TIME_INDEX, Comment
from threekcal.db.session import write_lock_wait
from threekcal.db.types import utcnow

Sort = Literal["newest", "oldest", "least_confident", "audit"]
SORTS: tuple[Sort, ...] = ("newest", "oldest", "least_confident", "audit")
MAX_SQL_INT = 2**63 - 1
RECEIPT_BYTES = 24

_sqlite_write_locks: dict[Engine, threading.Lock] = {}
_sqlite_write_locks_guard = threading.Lock()


@contextmanager
def serialized_writes(session: Session) -> Iterator[None]:
    """On SQLite, one writer per process at a time.

    SQLite allows one writer; a second one gets SQLITE_BUSY and its busy handler sleeps 1, 2, 5, 10 ... ms
    before retrying, which turns contention into latency spikes. Queueing writers on a lock here instead
    keeps the wait as short as the writes. MariaDB locks rows itself: nothing to do there.
    """
    engine = session.get_bind()
    if engine.dialect.name != "sqlite":
        yield
        return
    lock = _sqlite_write_locks.get(engine)  # type: ignore[call-overload]
    if lock is None:
        with _sqlite_write_locks_guard:
            lock = _sqlite_write_locks.setdefault(engine, threading.Lock())  # type: ignore[call-overload]
    if not lock.acquire(timeout=write_lock_wait(engine)):
        raise sa_exc.TimeoutError("database busy: no write slot within the time limit")
    try:
        yield
    finally:
        lock.release()


DEADLOCK_RETRIES = 2
MARIADB_DEADLOCK = 1213


def is_deadlock(error: sa_exc.DBAPIError) -> bool:
    """MariaDB chose this transaction as a deadlock victim: it was rolled back and may simply run again."""
    args = getattr(error.orig, "args", ())
    return bool(args) and args[0] == MARIADB_DEADLOCK


Written = TypeVar("Written")


def write_retrying_deadlocks(session: Session, write: Callable[[], Written]) -> Written:
    """Runs ``write``, one whole transaction that ends in its own commit, one writer at a time
    (serialized_writes). A deadlock victim (MariaDB 1213: the server rolled it back whole) runs again, at
    most DEADLOCK_RETRIES more times; other database errors roll back and go to the caller. ``write``
    must read what it needs inside (with its row locks), so that a rerun sees the state it then finds."""
    for attempt in range(DEADLOCK_RETRIES + 1):
        with serialized_writes(session):
            try:
                return write()
            except sa_exc.OperationalError as error:
                session.rollback()
                if attempt == DEADLOCK_RETRIES or not is_deadlock(error):
                    raise
    raise AssertionError("unreachable")  # pragma: no cover


def new_receipt() -> str:
    return secrets.token_urlsafe(RECEIPT_BYTES)


_INSERT_COMMENT = insert(Comment.__table__)  # built once; table-level, so no ORM bulk-insert machinery


def insert_comment(session: Session, *, request_user: str, text: str) -> Comment:
    """One INSERT and its commit; the returned (detached) row carries its number and receipt.

    A Core INSERT rather than ``session.add``: the hot path of the API, and the unit of work's flush
    machinery costs more CPU than the database does here.
    """
    values = {
        "comments": text,
        "request_user": request_user,
        "request_time": utcnow(),
        "receipt": new_receipt(),
    }

    def write() -> int:
        connection = session.connection()
        num: int = connection.execute(_INSERT_COMMENT, values).inserted_primary_key[0]
        aggregates.add_comments(connection, [values])  # after the row: the lock order
        session.commit()
        return num

    return Comment(num=write_retrying_deadlocks(session, write), **values)


def get_comment(session: Session, num: int) -> Comment | None:
    return session.get(Comment, num)


def get_comment_by_receipt(session: Session, receipt: str) -> Comment | None:
    return session.scalars(select(Comment).where(Comment.receipt == receipt)).one_or_none()


@dataclass(frozen=True)
class CommentFilter:
    """Filters shared by the comment list, its count and the export. ``since`` is inclusive,
    ``until`` exclusive, both on request_time; ``q`` matches a substring of the text literally."""

    request_user: str | None = None
    labeled: bool | None = None
    predicted: bool | None = None
    prediction_result: str | None = None
    label: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    q: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    label_sources: tuple[str, ...] | None = None  # label provenance: chosen, accepted, ...
    audit: bool | None = None  # in the audit sample (labelled from the random audit queue) or not
    extra: tuple[ColumnElement[bool], ...] = ()  # e.g. an annotator's queue (db/judgements.py)

    def unselective(self) -> bool:
        """Filters only on columns whose index does not give the number order (label, prediction, score,
        label source): no user, time range, text or queue condition that an index narrows first."""
        narrow = self.request_user is not None or self.since is not None or self.until is not None
        broad = (
            self.labeled is not None
            or self.predicted is not None
            or self.prediction_result is not None
            or self.label is not None
            or self.min_score is not None
            or self.max_score is not None
            or bool(self.label_sources)
        )
        return broad and not narrow and not self.q and not self.extra

    def time_ranged(self) -> bool:
        """A since/until range with no user, text or queue condition: what MariaDB's planner serves badly
        in number order (see ``_time_ranged_rows``)."""
        ranged = self.since is not None or self.until is not None
        return ranged and self.request_user is None and not self.q and not self.extra

    def conditions(self, unindexed: Collection[str] = ()) -> list[ColumnElement[bool]]:
        """The WHERE conditions; those on the columns named in ``unindexed`` are written so that SQLite
        does not pick an index for them (see ``list_comments``)."""

        def column(name: str) -> Any:
            attribute = getattr(Comment, name)
            return _no_index(attribute) if name in unindexed else attribute

        conditions: list[ColumnElement[bool]] = list(self.extra)
        if self.label_sources:
            conditions.append(column("label_source").in_(self.label_sources))
        if self.request_user is not None:
            conditions.append(Comment.request_user == self.request_user)
        if self.labeled is not None:
            label = column("label")
            conditions.append(label.is_not(None) if self.labeled else label.is_(None))
        if self.predicted is not None:
            result = column("prediction_result")
            conditions.append(result.is_not(None) if self.predicted else result.is_(None))
        if self.prediction_result is not None:
            conditions.append(column("prediction_result") == self.prediction_result)
        if self.label is not None:
            conditions.append(column("label") == self.label)
        if self.min_score is not None:
            conditions.append(column("prediction_score") >= self.min_score)
        if self.max_score is not None:
            conditions.append(column("prediction_score") <= self.max_score)
        if self.q:
            conditions.append(Comment.comments.contains(self.q, autoescape=True))
        if self.audit is not None:
            conditions.append(Comment.audit.is_(True) if self.audit else Comment.audit.is_(False))
        if self.since is not None:
            conditions.append(Comment.request_time >= self.since)
        if self.until is not None:
            conditions.append(Comment.request_time < self.until)
        return conditions


def _no_index(column: Any) -> Any:
    """SQLite's unary ``+``: the same value, but the planner does not drive the query by an index on
    ``column`` (sqlite.org/optoverview.html#disqualifying_where_clause_terms_using_unary_)."""
    return UnaryExpression(column, operator=custom_op("+"), type_=column.type)


# The columns whose filters must not pick SQLite's index, per sort. A page reads limit + 1 rows: walked in
# the sort's own index (the primary key, ix_comments_score_num) it stops after them, while an index on a
# filter column without the sort's order makes SQLite read and sort every match (O(matches): seconds at
# 10M comments). labeled/predicted/label/prediction_result with newest/oldest have (column, num) indexes
# that give both; a score range does not; under least_confident the (prediction_result, score) index
# gives both, label and label_source do not. request_user, since/until and the annotator's queue stay
# indexed: they are selective.
_UNINDEXED: dict[str, frozenset[str]] = {
    "newest": frozenset(),
    "oldest": frozenset(),
    "least_confident": frozenset({"label", "label_source"}),
}
# newest/oldest with a filter no (column, num) index serves: the next PROBE_ROWS numbers are filtered first
# (see _probed_rows), with every filter column kept off its index.
PROBE_ROWS = 20_000
_PROBED = frozenset({"label", "label_source", "prediction_result", "prediction_score"})


# The audit queue's order: a pseudo-random permutation of comment numbers, the same in SQL and in Python,
# on SQLite and MariaDB (integer *, %, >>, |, & only; XOR written as (a | b) - (a & b)). It depends on
# nothing but ``num``, so any prefix of it is a uniform sample whatever the predictions say, and every
# annotator walks the same sample. Products stay below 2**62: no overflow on either database.
AUDIT_MODULUS = 2_147_483_647  # 2**31 - 1, a prime
AUDIT_MULTIPLIERS = (1_103_515_245, 48_271)
AUDIT_SHIFTS = (15, 13)


def _xor_shift(value: Any, shift: int) -> Any:
    shifted = value.op(">>")(shift) if isinstance(value, ColumnElement) else value >> shift
    if isinstance(value, ColumnElement):
        return value.op("|")(shifted) - value.op("&")(shifted)
    return value ^ shifted


def audit_key(num: Any) -> Any:
    """The audit order of ``num``: an int for an int, the SQL expression for ``Comment.num``."""
    value = num % AUDIT_MODULUS
    for multiplier, shift in zip(AUDIT_MULTIPLIERS, AUDIT_SHIFTS, strict=True):
        value = _xor_shift(value * multiplier % AUDIT_MODULUS, shift)
    return value


class InvalidCursorError(ValueError):
    """A cursor that this server did not hand out for this sort order."""


SortKey = list[Any]


def encode_cursor(key: SortKey) -> str:
    raw = json.dumps(key, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _is_sql_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_SQL_INT


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def decode_cursor(cursor: str, sort: Sort) -> SortKey:
    """The sort key values of the last row of the previous page: [num], [score | null, num] or
    [audit key, num]."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursorError(cursor) from exc
    if not isinstance(key, list):
        raise InvalidCursorError(cursor)
    if sort == "least_confident":
        valid = len(key) == 2 and _is_sql_int(key[1]) and (key[0] is None or _is_finite_number(key[0]))
    elif sort == "audit":
        valid = len(key) == 2 and _is_sql_int(key[0]) and _is_sql_int(key[1])
    else:
        valid = len(key) == 1 and _is_sql_int(key[0])
    if not valid:
        raise InvalidCursorError(cursor)
    return key


def sort_key(comment: Comment, sort: Sort) -> SortKey:
    if sort == "least_confident":
        return [comment.prediction_score, comment.num]
    if sort == "audit":
        return [audit_key(comment.num), comment.num]
    return [comment.num]


@dataclass
class Page:
    items: list[Comment]
    next_key: SortKey | None


def list_comments(
    session: Session,
    flt: CommentFilter,
    *,
    sort: Sort = "newest",
    limit: int = 50,
    after: SortKey | None = None,
) -> Page:
    """One page in keyset order, ``after`` being the sort key of the previous page's last row.

    newest/oldest walk the primary key; filters the planner would serve badly that way are steered
    (SQLite, an unselective filter: ``_probed_rows``; MariaDB, a time range: ``_time_ranged_rows``).
    least_confident walks ix_comments_score_num over scored rows first (lowest score first), then the rows
    without a score by number: two index-friendly queries instead of one ORDER BY on ``score IS NULL``
    that no index serves. On SQLite, filters that would make the planner read and sort every match are
    kept off their indexes (``_UNINDEXED``). audit walks
    :func:`audit_key` (a sort over the filtered rows: no index can serve a pseudo-random order).
    """
    sqlite = session.get_bind().dialect.name == "sqlite"
    base = select(Comment).where(*flt.conditions(_UNINDEXED.get(sort, frozenset()) if sqlite else ()))
    if sort == "audit":
        key = audit_key(Comment.num)
        query = base.order_by(key.asc(), Comment.num.asc())
        if after is not None:
            query = query.where(or_(key > after[0], and_(key == after[0], Comment.num > after[1])))
        return _page(list(session.scalars(query.limit(limit + 1))), limit, sort)
    if sort in ("newest", "oldest"):
        newest = sort == "newest"
        steered = _probed_rows if sqlite and flt.unselective() else None
        if not sqlite and flt.time_ranged():
            steered = _time_ranged_rows
        if steered is not None:
            return _page(steered(session, flt, newest=newest, after=after, limit=limit), limit, sort)
        order = Comment.num.desc() if newest else Comment.num.asc()
        keyset = [] if after is None else [Comment.num < after[0] if newest else Comment.num > after[0]]
        rows = list(session.scalars(base.where(*keyset).order_by(order).limit(limit + 1)))
        return _page(rows, limit, sort)

    scored: list[Comment] = []
    if after is None or after[0] is not None:
        query = base.where(Comment.prediction_score.is_not(None))
        if after is not None:
            score, num = after
            query = query.where(
                or_(
                    Comment.prediction_score > score,
                    and_(Comment.prediction_score == score, Comment.num > num),
                )
            )
        query = query.order_by(Comment.prediction_score.asc(), Comment.num.asc()).limit(limit + 1)
        scored = list(session.scalars(query))
        if len(scored) > limit:
            return _page(scored, limit, sort)
    query = base.where(Comment.prediction_score.is_(None))
    if after is not None and after[0] is None:
        query = query.where(Comment.num > after[1])
    remaining = limit - len(scored)
    unscored = list(session.scalars(query.order_by(Comment.num.asc()).limit(remaining + 1)))
    return _page(scored + unscored, limit, sort)


def _probed_rows(
    session: Session, flt: CommentFilter, *, newest: bool, after: SortKey | None, limit: int
) -> list[Comment]:
    """SQLite, up to limit + 1 rows of a newest/oldest page with unselective filters: the next PROBE_ROWS
    numbers first, filtered without an index (a primary key range: O(PROBE_ROWS)); only when they hold
    too few matches, the rest with the filters' indexes: then the matches are rare, so reading and
    sorting all of them is cheap too. The numbers beyond are ordered by +num: the planner then reads a
    filter's index, which holds the number too, and sorts them, instead of walking the whole primary key
    past the window, even where its statistics call the filter unselective."""
    order = Comment.num.desc() if newest else Comment.num.asc()
    if newest:
        top = after[0] if after is not None else _largest_num(session) + 1
        edge = top - PROBE_ROWS
        window = [Comment.num < top, Comment.num >= edge]
    else:
        bottom = after[0] if after is not None else 0
        edge = bottom + PROBE_ROWS
        window = [Comment.num > bottom, Comment.num <= edge]
    probe = select(Comment).where(*flt.conditions(_PROBED), *window).order_by(order)
    rows = list(session.scalars(probe.limit(limit + 1)))
    if len(rows) > limit:
        return rows
    unordered = _no_index(Comment.num)
    nums = (
        select(Comment.num)
        .where(*flt.conditions(), unordered < edge if newest else unordered > edge)
        .order_by(unordered.desc() if newest else unordered.asc())
        .limit(limit + 1 - len(rows))
    )
    rest = select(Comment).where(Comment.num.in_(nums.scalar_subquery())).order_by(order)
    return rows + list(session.scalars(rest))


def _time_ranged_rows(
    session: Session, flt: CommentFilter, *, newest: bool, after: SortKey | None, limit: int
) -> list[Comment]:
    """MariaDB, up to limit + 1 rows of a newest/oldest page over a time range, by one of two plans:
    walk the primary key from where the page starts, or read the range from the request_time index
    (its entries hold the number too) and sort the numbers. MariaDB itself walks the primary key, and
    where numbers follow time (the usual case) a day in the middle of a year of comments lies millions
    of numbers away from the newest: seconds at 10M comments.

    The choice: the numbers of the range's first and last comment in time (two index look-ups) tell
    where the range lies in number order. The walk costs the numbers between the page's start and the
    range; the index read costs the range. Both plans give the same rows; only their cost depends on how
    well numbers follow time."""
    dialect = session.get_bind().dialect.name
    in_range = CommentFilter(since=flt.since, until=flt.until).conditions()
    ends = (
        select(Comment.num)
        .where(*in_range)
        .order_by(order)
        .limit(1)
        .with_hint(Comment, f"FORCE INDEX ({REQUEST_TIME_INDEX})", dialect_name=dialect)
        .scalar_subquery()
        for order in (Comment.request_time.asc(), Comment.request_time.desc())
    )
    largest = select(func.max(Comment.num)).scalar_subquery()
    first, last, top = session.execute(select(*ends, largest)).one()  # one round trip
    if first is None or last is None:
        return []  # nothing in the range at all
    low, high = min(first, last), max(first, last)
    if newest:
        start = after[0] if after is not None else top + 1
        distance, keyset, order = start - 1 - high, Comment.num < start, Comment.num.desc()
    else:
        start = after[0] if after is not None else 0
        distance, keyset, order = low - start - 1, Comment.num > start, Comment.num.asc()
    walk = distance < high - low + 1
    query = select(Comment.num).where(*flt.conditions(), keyset).order_by(order).limit(limit + 1)
    hint = "PRIMARY" if walk else REQUEST_TIME_INDEX
    nums = list(session.scalars(query.with_hint(Comment, f"FORCE INDEX ({hint})", dialect_name=dialect)))
    return list(session.scalars(select(Comment).where(Comment.num.in_(nums)).order_by(order)))


def _largest_num(session: Session) -> int:
    return session.scalar(select(func.max(Comment.num))) or 0


def _page(rows: list[Comment], limit: int, sort: Sort) -> Page:
    if len(rows) > limit:
        items = rows[:limit]
        return Page(items, sort_key(items[-1], sort))
    return Page(rows, None)


def count_comments(session: Session, flt: CommentFilter) -> int:
    return session.scalar(select(func.count()).select_from(Comment).where(*flt.conditions())) or 0


def iter_comments(
    session: Session, flt: CommentFilter, *, sort: Sort = "newest", batch_size: int = 1000
) -> Iterator[Comment]:
    """Every matching comment in keyset batches, so an export never holds the whole table."""
    after: SortKey | None = None
    while True:
        page = list_comments(session, flt, sort=sort, limit=batch_size, after=after)
        yield from page.items
        session.expunge_all()  # the identity map would otherwise keep every exported row alive
        if page.next_key is None:
            return
        after = page.next_key


@dataclass(frozen=True)
class UserSummary:
    request_user: str
    comments: int
    predicted: int
    labeled: int
    last_request_time: datetime | None


def list_users(session: Session, *, q: str | None = None, limit: int = 100) -> list[UserSummary]:
    """Users by number of comments (most first), one GROUP BY."""
    total = func.count().label("comments")
    query = select(
        Comment.request_user,
        total,
        func.count(Comment.prediction_result),
        func.count(Comment.label),
        func.max(Comment.request_time),
    ).group_by(Comment.request_user)
    if q:
        query = query.where(Comment.request_user.contains(q, autoescape=True))
    query = query.order_by(total.desc(), Comment.request_user.asc()).limit(limit)
    return [UserSummary(*row) for row in session.execute(query)]
