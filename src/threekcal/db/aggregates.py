"""Every rule of how a write changes the statistics counts (tables of migration 0007, db/models.py).

A comment *contributes* to a few aggregate cells, each a primary key and a vector of counts
(``contributions``). A write that changes comments changes the counts by the contributions of the rows
after it minus those before it (``Delta``), applied in the same transaction as the write
(``Delta.apply``). The writers:

- new comments: ``add_comments`` (db/queries.py, db/idempotency.py); the bulk importer's chunks:
  ``add_comment_range`` / ``add_comment_receipts``, the same rules in SQL (``_counting``);
- ORM changes of ``Comment`` (labels set, accepted, undone, resolved; the audit flag; deletes; rows added
  with ``session.add``): counted at flush by the ``after_flush`` listener below, from the attributes'
  history, so no label rule in db/labels.py has to remember it; ``session.execute(update(Comment)...)``
  and ``delete(Comment)`` are counted by the ``do_orm_execute`` listener (rows read before and after);
- Core statements on a Connection (``connection.execute(update(comments))``) are NOT seen: such writers
  call this module themselves, or ``threekcal stats rebuild`` repairs the counts afterwards;
- applied predictions (local and Spark apply, backfills): ``merge_predictions`` in pipeline/merge.py
  reads the rows the merge will change under a row lock, then merges, then applies the delta.

Lock order (MariaDB): comment rows (and idempotency keys) first, aggregate rows last, table by table in
``TABLES`` order and by sorted key within a table, so two writers never wait on each other in a circle.

Counting everything again from the rows, to check the tables or rebuild them, is db/aggregates_check.py.

Add a comment to this module, not elsewhere, when a new statistic needs a new count.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, event, inspect, literal_column, select, text
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction
from sqlalchemy.orm.attributes import get_history

from threekcal.db.models import (
    Comment,
    StatsCurve,
    StatsHourly,
    StatsLabel,
    StatsModelHourly,
    StatsScore,
    StatsUser,
)
from threekcal.emotions import LABELS

ALL_USERS = ""  # the scope of the whole table; a request_user is never empty (threekcal.validation)
CALIBRATION_BINS = 10
HISTOGRAM_BINS = 20
CURVE_STEPS = 50  # thresholds k / 50: 51 bins
NO_BIN = -1  # a labelled comment without a prediction score
NANO = 1_000_000_000
_EPOCH = datetime(1970, 1, 1)
_HOUR = timedelta(hours=1)
_LABEL_SET = frozenset(LABELS)
_PREDICTED_ZERO = (0,) * len(LABELS)  # predicted_<label> columns; a prediction outside LABELS has none
_PREDICTED_ONE = {label: tuple(int(i == j) for j in range(len(LABELS))) for i, label in enumerate(LABELS)}

# Lock order: aggregate tables are always written in this order.
TABLES: tuple[Table, ...] = (
    StatsHourly.__table__,  # type: ignore[assignment]
    StatsModelHourly.__table__,  # type: ignore[assignment]
    StatsUser.__table__,  # type: ignore[assignment]
    StatsLabel.__table__,  # type: ignore[assignment]
    StatsScore.__table__,  # type: ignore[assignment]
    StatsCurve.__table__,  # type: ignore[assignment]
)
KEY_COLUMNS: dict[str, tuple[str, ...]] = {
    table.name: tuple(column.name for column in table.primary_key.columns) for table in TABLES
}
COUNT_COLUMNS: dict[str, tuple[str, ...]] = {
    table.name: tuple(column.name for column in table.columns if not column.primary_key) for table in TABLES
}

# The columns of ``comments`` the counts depend on; a write that changes none of them changes no count.
STATE_COLUMNS = (
    "request_user",
    "request_time",
    "prediction_result",
    "prediction_score",
    "prediction_scores",
    "model_version",
    "label",
    "label_source",
    "audit",
)


def score_bin(score: float, bins: int, top: int) -> int:
    """The bin of a probability, as db/stats_recompute.py's SQL ``score_bin``: floor(score * bins) clamped."""
    return max(0, min(top, math.floor(score * bins)))


def hour_of(moment: datetime) -> int:
    """Whole hours since 1970-01-01 00:00 UTC; a naive datetime is UTC (how the database returns it)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return (moment - _EPOCH) // _HOUR


def _probability(scores: Any, label: str) -> float | None:
    value = scores.get(label) if isinstance(scores, Mapping) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def contributions(row: Mapping[str, Any]) -> Iterator[tuple[str, tuple[Any, ...], tuple[int, ...]]]:
    """The cells one comment counts in, with its counts there (in COUNT_COLUMNS order).

    ``row`` holds STATE_COLUMNS (missing ones count as None/False). Every comment counts in the
    all-users scope ("") and in its request_user's scope."""
    user = row["request_user"]
    predicted = row.get("prediction_result")
    score = row.get("prediction_score")
    label = row.get("label")
    source = row.get("label_source") or ""
    audit = bool(row.get("audit"))
    labeled = label is not None
    scored = labeled and predicted is not None
    correct = scored and label == predicted
    hour = hour_of(row["request_time"])
    mix = _PREDICTED_ZERO if predicted is None else _PREDICTED_ONE.get(predicted, _PREDICTED_ZERO)
    hourly = (1, int(predicted is None), int(labeled), int(scored), int(correct), int(scored and audit),
              int(correct and audit), *mix)  # fmt: skip
    both_known = label in _LABEL_SET and predicted in _LABEL_SET
    if predicted is not None:
        yield "stats_model_hourly", (hour, row.get("model_version") or ""), mix
    for scope in (ALL_USERS, user):
        yield "stats_hourly", (scope, hour), hourly
        if labeled:
            calibration = (
                score_bin(score, CALIBRATION_BINS, CALIBRATION_BINS - 1) if score is not None else NO_BIN
            )
            confidence = math.floor(score * NANO) if score is not None else 0
            key = (scope, source, int(audit), label, predicted or "", calibration)
            yield "stats_labels", key, (1, confidence)
        if predicted is not None and score is not None:
            yield (
                "stats_scores",
                (scope, predicted, score_bin(score, HISTOGRAM_BINS, HISTOGRAM_BINS - 1)),
                (1,),
            )
        if both_known:
            scores = row.get("prediction_scores")
            for curve_label in LABELS:
                p = _probability(scores, curve_label)
                if p is not None:
                    key = (scope, source, curve_label, score_bin(p, CURVE_STEPS, CURVE_STEPS))
                    yield "stats_curves", key, (1, int(label == curve_label))
    yield "stats_users", (user,), (1, int(labeled), int(scored), int(correct))


class Delta:
    """Changes of counts per cell, summed over any number of rows added and removed."""

    def __init__(self) -> None:
        self.cells: dict[str, dict[tuple[Any, ...], list[int]]] = {table.name: {} for table in TABLES}

    def add(self, row: Mapping[str, Any], sign: int = 1) -> None:
        for table, key, counts in contributions(row):
            cell = self.cells[table].get(key)
            if cell is None:
                self.cells[table][key] = [sign * n for n in counts]
            else:
                for i, n in enumerate(counts):
                    cell[i] += sign * n

    def remove(self, row: Mapping[str, Any]) -> None:
        self.add(row, -1)

    def change(self, before: Mapping[str, Any], after: Mapping[str, Any]) -> None:
        self.remove(before)
        self.add(after)

    def nonzero(self, table: str) -> list[tuple[tuple[Any, ...], list[int]]]:
        return sorted((key, counts) for key, counts in self.cells[table].items() if any(counts))

    def __bool__(self) -> bool:
        return any(any(any(c) for c in cells.values()) for cells in self.cells.values())

    def apply(self, connection: Connection) -> None:
        """Adds the changes to the tables: table by table in TABLES order, keys sorted (the lock order)."""
        for table in TABLES:
            rows = self.nonzero(table.name)
            if not rows:
                continue
            keys, counts = KEY_COLUMNS[table.name], COUNT_COLUMNS[table.name]
            values = [
                dict(zip(keys, key, strict=True)) | dict(zip(counts, n, strict=True)) for key, n in rows
            ]
            connection.execute(_upsert(connection, table), values)


def _upsert(connection: Connection, table: Table) -> Any:
    """INSERT of the changes that adds them to an existing row instead (one statement, many rows)."""
    counts = COUNT_COLUMNS[table.name]
    if connection.dialect.name == "sqlite":
        statement = sqlite_insert(table)
        return statement.on_conflict_do_update(
            index_elements=list(KEY_COLUMNS[table.name]),
            set_={name: table.c[name] + statement.excluded[name] for name in counts},
        )
    statement = mysql_insert(table)
    return statement.on_duplicate_key_update(
        {name: table.c[name] + statement.inserted[name] for name in counts}
    )


def add_comments(connection: Connection, rows: Iterable[Mapping[str, Any]]) -> None:
    """Counts newly inserted comments: call it in the transaction of their INSERT, after it.

    Each row: ``request_user`` and ``request_time`` and, when known, ``prediction_result``,
    ``prediction_score``, ``prediction_scores``, ``model_version``, ``label``, ``label_source``, ``audit``.
    """
    delta = Delta()
    for row in rows:
        delta.add(row)
    delta.apply(connection)


def _hour(dialect: str, column: str) -> str:
    """Whole hours since 1970 (as hour_of: floor division, also before 1970)."""
    if dialect == "sqlite":
        # The hour's start is a whole number of hours: the division is exact.
        return f"CAST(strftime('%s', substr({column}, 1, 13) || ':00:00') AS INTEGER) / 3600"
    # TO_SECONDS counts from year 0, so its truncation of microseconds is a floor; TIMESTAMPDIFF's is not.
    return f"FLOOR((TO_SECONDS({column}) - TO_SECONDS('1970-01-01 00:00:00')) / 3600)"


def _temporary(dialect: str, name: str) -> tuple[str, str]:
    """How a temporary table is declared and named: ("TABLE", "temp.NAME") on SQLite."""
    return ("TABLE", f"temp.{name}") if dialect == "sqlite" else ("TEMPORARY TABLE", name)


@dataclass(frozen=True)
class _Counting:
    """The SQL that adds the contributions of selected new comments to the tables: ``copy`` (the only
    statement with the selection's parameters) copies what the counts need of those rows, each key
    computed once (hour, bins), into a temporary table, after ``clear`` removed a leftover one; ``group``
    adds it up into the tables; ``drop`` removes it."""

    clear: str
    copy: str
    group: list[str]
    drop: str


def _counting(dialect: str, where: str) -> _Counting:
    """``contributions`` in SQL over the comments matching ``where`` (all of them new), in TABLES
    order and, within a table, in key order (the lock order). Curves are left to Python
    (``_add_selected``): they parse prediction_scores."""
    sqlite = dialect == "sqlite"
    temporary, chunk = _temporary(dialect, "stats_new_comments")

    def floor(expression: str) -> str:  # of a non-negative number: SQLite's CAST truncates
        return f"CAST({expression} AS INTEGER)" if sqlite else f"FLOOR({expression})"

    def clamp(expression: str, top: int) -> str:
        return f"max(0, min({top}, {expression}))" if sqlite else f"GREATEST(0, LEAST({top}, {expression}))"

    # MariaDB compares text by the case-insensitive collation; the counts compare exactly, as Python does.
    exact = "" if sqlite else "BINARY "
    calibration = (
        f"CASE WHEN prediction_score IS NULL THEN {NO_BIN} "
        f"ELSE {clamp(floor(f'prediction_score * {CALIBRATION_BINS}'), CALIBRATION_BINS - 1)} END"
    )
    labeled, predicted = "label IS NOT NULL", "prediction_result IS NOT NULL"
    scored = f"{labeled} AND {predicted}"
    correct = f"{scored} AND {exact}label = {exact}prediction_result"
    derived = {
        "u": "request_user",
        "h": _hour(dialect, "request_time"),
        "p": "prediction_result",
        "l": "label",
        "src": "coalesce(label_source, '')",
        "a": "CASE WHEN audit THEN 1 ELSE 0 END",
        "m": "coalesce(model_version, '')",
        "cal": calibration,
        "conf": f"CASE WHEN prediction_score IS NULL THEN 0 ELSE {floor(f'prediction_score * {NANO}')} END",
        "hist": f"CASE WHEN {predicted} AND prediction_score IS NOT NULL THEN "
        f"{clamp(floor(f'prediction_score * {HISTOGRAM_BINS}'), HISTOGRAM_BINS - 1)} END",
        "pend": f"CASE WHEN {predicted} THEN 0 ELSE 1 END",
        "lab": f"CASE WHEN {labeled} THEN 1 ELSE 0 END",
        "sc": f"CASE WHEN {scored} THEN 1 ELSE 0 END",
        "cor": f"CASE WHEN {correct} THEN 1 ELSE 0 END",
    }
    copy = (
        f"CREATE {temporary} {chunk} AS SELECT "
        + ", ".join(f"{sql} AS {name}" for name, sql in derived.items())
        + f" FROM comments WHERE {where}"
    )
    grouping: list[str] = []

    def upsert(table: str, keys: list[str], counts: list[str], where: str = "1 = 1", *, summed: bool) -> None:
        """Adds each selected row's ``counts`` (expressions of one row) to its cell: ``summed``, a GROUP BY
        adds up the rows of a cell first; otherwise the upsert adds them one after the other."""
        columns = (*KEY_COLUMNS[table], *COUNT_COLUMNS[table])
        assert len(columns) == len(keys) + len(counts), table
        order = ", ".join(str(i + 1) for i in range(len(keys)))
        if summed:
            counts = ["count(*)" if count == "1" else f"sum({count})" for count in counts]
        if sqlite:
            added = ", ".join(f"{name} = {name} + excluded.{name}" for name in COUNT_COLUMNS[table])
            conflict = f"ON CONFLICT ({', '.join(KEY_COLUMNS[table])}) DO UPDATE SET {added}"
        else:
            added = ", ".join(f"{name} = {name} + VALUES({name})" for name in COUNT_COLUMNS[table])
            conflict = f"ON DUPLICATE KEY UPDATE {added}"
        grouping.append(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join((*keys, *counts))} "
            f"FROM {chunk} WHERE {where} {f'GROUP BY {order} ' if summed else ''}ORDER BY {order} {conflict}"
        )

    known = ", ".join(f"{exact}'{label}'" for label in LABELS)
    mix = [f"CASE WHEN {exact}p = '{label}' THEN 1 ELSE 0 END" for label in LABELS]
    hourly = ["1", "pend", "lab", "sc", "cor", "sc * a", "cor * a", *mix]
    labels, label_keys = ["1", "conf"], ["src", "a", "l", "coalesce(p, '')", "cal"]
    # The whole table's cells gather many new comments each: a GROUP BY adds them up first. A user's cells
    # (an hour, a label, a score bin) hold about one new comment each: summing them would cost the sum's
    # steps for every row and save no upserts.
    upsert("stats_hourly", ["''", "h"], hourly, summed=True)
    upsert("stats_hourly", ["u", "h"], hourly, summed=False)
    upsert("stats_model_hourly", ["h", "m"], mix, f"{exact}p IN ({known})", summed=True)
    upsert("stats_users", ["u"], ["1", "lab", "sc", "cor"], summed=True)
    upsert("stats_labels", ["''", *label_keys], labels, "l IS NOT NULL", summed=True)
    upsert("stats_labels", ["u", *label_keys], labels, "l IS NOT NULL", summed=False)
    upsert("stats_scores", ["''", "p", "hist"], ["1"], "hist IS NOT NULL", summed=True)
    upsert("stats_scores", ["u", "p", "hist"], ["1"], "hist IS NOT NULL", summed=False)
    return _Counting(f"DROP {temporary} IF EXISTS {chunk}", copy, grouping, f"DROP {temporary} {chunk}")


_RANGE = "num BETWEEN {marker} AND {marker}"
_RECEIPTS_TABLE = "stats_new_receipts"
_RANGE_COUNTING = {
    dialect: _counting(dialect, _RANGE.format(marker=marker))
    for dialect, marker in (("sqlite", "?"), ("mysql", "%s"))
}
_RECEIPT_COUNTING = {
    dialect: _counting(dialect, f"receipt IN (SELECT receipt FROM {_RECEIPTS_TABLE})")
    for dialect in ("sqlite", "mysql")
}


def add_comment_range(connection: Connection, first: int, last: int) -> None:
    """Counts the new comments numbered ``first`` to ``last`` (both inclusive; every row of the range is
    new) with a few statements in the database.

    Call it in the transaction of their INSERT, after it, like ``add_comments``."""
    table = Comment.__table__
    counting = _RANGE_COUNTING[_dialect(connection)]
    _add_selected(connection, counting, (first, last), table.c.num.between(first, last))


def add_comment_receipts(connection: Connection, receipts: Sequence[str]) -> None:
    """Counts the new comments with these receipts, as ``add_comment_range`` (for new comments whose
    numbers are not one range: another writer may have inserted between them)."""
    if not receipts:
        return
    dialect = _dialect(connection)
    temporary, table = _temporary(dialect, _RECEIPTS_TABLE)
    connection.exec_driver_sql(f"DROP {temporary} IF EXISTS {table}")
    # The receipt column's own type and collation, so that IN (SELECT ...) uses the unique receipt index.
    connection.exec_driver_sql(f"CREATE {temporary} {table} AS SELECT receipt FROM comments WHERE 1 = 0")
    connection.exec_driver_sql(
        f"INSERT INTO {table} (receipt) VALUES ({'?' if dialect == 'sqlite' else '%s'})",
        [(r,) for r in receipts],
    )
    selected = select(literal_column("receipt")).select_from(text(_RECEIPTS_TABLE))
    _add_selected(connection, _RECEIPT_COUNTING[dialect], (), Comment.__table__.c.receipt.in_(selected))
    connection.exec_driver_sql(f"DROP {temporary} {table}")


def _dialect(connection: Connection) -> str:
    return "sqlite" if connection.dialect.name == "sqlite" else "mysql"


def _add_selected(
    connection: Connection, counting: _Counting, parameters: tuple[Any, ...], where: Any
) -> None:
    connection.exec_driver_sql(counting.clear)
    connection.exec_driver_sql(counting.copy, parameters)
    for statement in counting.group:
        connection.exec_driver_sql(statement)
    connection.exec_driver_sql(counting.drop)
    # ROC/PR curves: only comments with a known label, a known prediction and probabilities (an import has
    # none); Python parses their prediction_scores.
    table = Comment.__table__
    scored = select(*(table.c[name] for name in STATE_COLUMNS)).where(
        where,
        table.c.prediction_scores.is_not(None),
        table.c.label.in_(LABELS),
        table.c.prediction_result.in_(LABELS),
    )
    delta = Delta()
    curves = delta.cells["stats_curves"]
    for row in connection.execute(scored).mappings():
        for name, key, counts in contributions(row):
            if name == "stats_curves":
                cell = curves.setdefault(key, [0] * len(counts))
                for i, n in enumerate(counts):
                    cell[i] += n
    delta.apply(connection)


def remove_comments(connection: Connection, rows: Iterable[Mapping[str, Any]]) -> None:
    """Uncounts comments deleted with Core statements (same transaction as the DELETE)."""
    delta = Delta()
    for row in rows:
        delta.remove(row)
    delta.apply(connection)


# --- ORM writes: counted at flush from the attributes' history --------------------------------------------


def _states(target: Comment) -> tuple[dict[str, Any], dict[str, Any], bool]:
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    changed = False
    loaded = inspect(target).dict
    for name in STATE_COLUMNS:
        history = get_history(target, name)
        current = loaded.get(name)
        if history.deleted:
            before[name] = history.deleted[0]
            changed = True
        elif history.added:
            before[name] = None
            changed = True
        else:
            before[name] = current
        after[name] = current
    return before, after, changed


def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    delta = Delta()
    for target in session.new:
        if isinstance(target, Comment):
            delta.add(_states(target)[1])
    for target in session.dirty:
        if isinstance(target, Comment) and session.is_modified(target, include_collections=False):
            before, after, changed = _states(target)
            if changed:
                delta.change(before, after)
    for target in session.deleted:
        if isinstance(target, Comment):
            delta.remove(_states(target)[0])
    if delta:
        delta.apply(session.connection())


event.listen(Session, "after_flush", _after_flush)


def _state_rows(connection: Connection, where: Any, *, lock: bool) -> dict[int, dict[str, Any]]:
    table = Comment.__table__
    query = select(table.c.num, *(table.c[name] for name in STATE_COLUMNS))
    if where is not None:
        query = query.where(where)
    if lock and connection.dialect.name != "sqlite":
        query = query.with_for_update()
    return {row["num"]: dict(row) for row in connection.execute(query).mappings()}


def _orm_bulk_write(state: ORMExecuteState) -> Any:
    """``session.execute(update(Comment)...)`` / ``delete(Comment)``: the rows it matches are read (and
    locked) before, again after, and the difference counted in the same transaction."""
    if not (state.is_update or state.is_delete):
        return None
    statement = state.statement
    target = getattr(statement, "table", None)
    if target is None or getattr(target, "name", None) != Comment.__tablename__:
        return None
    connection = state.session.connection()
    where = getattr(statement, "whereclause", None)
    before = _state_rows(connection, where, lock=True)
    result = state.invoke_statement()
    delta = Delta()
    if state.is_delete:
        for row in before.values():
            delta.remove(row)
    else:
        table = Comment.__table__
        nums = sorted(before)
        after: dict[int, dict[str, Any]] = {}
        for start in range(0, len(nums), 1000):
            after |= _state_rows(connection, table.c.num.in_(nums[start : start + 1000]), lock=False)
        for num, row in before.items():
            if num in after:
                delta.change(row, after[num])
            else:
                delta.remove(row)
    if delta:
        delta.apply(connection)
    return result


event.listen(Session, "do_orm_execute", _orm_bulk_write)


# --- Applied predictions ------------------------------------------------------------------------------------


def prediction_delta(rows: Iterable[Mapping[str, Any]], prediction_columns: Iterable[str]) -> Delta:
    """The change of counts when each row's prediction columns take the values ``new_<column>``."""
    columns = tuple(prediction_columns)
    delta = Delta()
    for row in rows:
        after = dict(row)
        for name in columns:
            after[name] = row[f"new_{name}"]
        delta.change(row, after)
    return delta
