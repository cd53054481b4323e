"""What every apply engine shares: merging staged records into ``comments`` (and their statistics counts)
and marking a batch applied.

Only ``prediction_result, prediction_score, prediction_scores, prediction_time, model_version`` change,
and only where the stored ``prediction_time`` is NULL or older than the record's: a late, older log
never overwrites a newer prediction and never touches ``label``, ``remark`` or the label audit. The
batch is marked applied in the same transaction as its last merge, guarded by ``applied_at IS NULL``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC
from typing import Any, Literal

from sqlalchemy import Table, exists, or_, select, update
from sqlalchemy.engine import Connection

from threekcal.db import aggregates
from threekcal.db.models import Comment, PredictionBatch, PredictionStaging
from threekcal.db.types import utcnow
from threekcal.pipeline import logfiles
from threekcal.pipeline.records import QuarantinedLine, ValidRecord
from threekcal.settings import Settings

log = logging.getLogger(__name__)

UNKNOWN_SAMPLE = 20
QUARANTINE_LOGGED = 5  # quarantined lines also written to the log (the file has them all)
MERGE_READ_ROWS = 10_000
PREDICTION_COLUMNS = (
    "prediction_result",
    "prediction_score",
    "prediction_scores",
    "prediction_time",
    "model_version",
)

comments = Comment.__table__
batches = PredictionBatch.__table__
staging = PredictionStaging.__table__

BatchProgress = Callable[[str, int, int], None]  # run_id, records done, records in all


class AlreadyApplied(RuntimeError):
    """Another apply marked the batch applied first; this run's transaction is rolled back."""


@dataclass
class BatchResult:
    run_id: str
    engine: str
    status: Literal["applied", "already-applied"]
    records: int = 0  # valid records after keeping the newest per num
    applied_rows: int = 0
    unknown_nums: int = 0
    quarantined: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        if self.status != "applied":
            return f"apply {self.run_id}: already applied by another run"
        return (
            f"apply {self.run_id} ({self.engine}): {self.records} records, {self.applied_rows} rows updated, "
            f"{self.unknown_nums} unknown nums, {self.quarantined} lines quarantined in {self.seconds:.2f} s"
        )


def time_text(record: ValidRecord) -> str:
    """UTC time as both backends store and compare it (SQLAlchemy's SQLite format; MariaDB DATETIME(6))."""
    return record.prediction_time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _merge_conditions(source: Table, run_id: str | None, ties: bool = False) -> list[Any]:
    stored, new = comments.c.prediction_time, source.c.prediction_time
    conditions = [
        comments.c.num == source.c.num,
        or_(stored.is_(None), stored <= new if ties else stored < new),
    ]
    if run_id is not None:
        conditions.append(source.c.run_id == run_id)
    return conditions


def merge_statement(source: Table, run_id: str | None = None, ties: bool = False) -> Any:
    """UPDATE comments from ``source`` where the stored prediction is missing or older (or as old, with
    ``ties``: a later chunk of the log being applied, whose later line wins a tie)."""
    conditions = _merge_conditions(source, run_id, ties)
    return update(comments).where(*conditions).values({name: source.c[name] for name in PREDICTION_COLUMNS})


class MergeRaceError(RuntimeError):
    """The merge changed other rows than were counted: the transaction is rolled back, nothing is lost."""


def merge_predictions(
    connection: Connection, source: Table, run_id: str | None = None, *, ties: bool = False
) -> int:
    """``merge_statement`` and its change of the statistics counts, in the caller's transaction.

    The rows the merge will change are read first (locked on MariaDB; SQLite has one writer) with their
    new prediction, streamed into a ``aggregates.Delta`` (memory: the cells, not the rows); the delta is
    applied after the UPDATE, so aggregate rows are locked last. Returns the number of rows updated."""
    query = select(
        *(comments.c[name] for name in aggregates.STATE_COLUMNS),
        *(source.c[name].label(f"new_{name}") for name in PREDICTION_COLUMNS),
    ).where(*_merge_conditions(source, run_id, ties))
    if connection.dialect.name != "sqlite":
        query = query.with_for_update()
    delta = aggregates.Delta()
    counted = 0
    for row in connection.execution_options(yield_per=MERGE_READ_ROWS).execute(query).mappings():
        delta.change(row, {**row, **{name: row[f"new_{name}"] for name in PREDICTION_COLUMNS}})
        counted += 1
    updated = int(connection.execute(merge_statement(source, run_id, ties)).rowcount)
    if updated != counted:
        raise MergeRaceError(f"merge updated {updated} rows, {counted} were counted")
    delta.apply(connection)
    return updated


def unknown_nums_query(source: Table, run_id: str | None = None) -> Any:
    query = select(source.c.num).where(~exists().where(comments.c.num == source.c.num)).order_by(source.c.num)
    return query.where(source.c.run_id == run_id) if run_id is not None else query


def mark_applied(
    connection: Connection,
    run_id: str,
    *,
    engine: str,
    applied_rows: int,
    unknown_nums: int,
    quarantined: int,
    seconds: float,
    details: dict[str, Any],
) -> None:
    result = connection.execute(
        update(batches)
        .where(batches.c.run_id == run_id, batches.c.applied_at.is_(None))
        .values(
            applied_at=utcnow(),
            applied_rows=applied_rows,
            unknown_nums=unknown_nums,
            quarantined=quarantined,
            apply_seconds=seconds,
            engine=engine,
            details=details,
        )
    )
    if result.rowcount != 1:
        raise AlreadyApplied(run_id)


class QuarantineFile:
    """The quarantined lines of one apply, written as the log is read (memory holds none of them) to a
    temporary file that ``publish`` moves into place; closed without publishing, it is deleted."""

    def __init__(self, settings: Settings, run_id: str) -> None:
        self.log_dir = settings.log_dir
        self.run_id = run_id
        self.path = logfiles.quarantine_path(settings.log_dir, run_id)
        self.count = 0
        self._writer: logfiles.JsonLinesWriter | None = None

    def add(self, lines: Iterable[QuarantinedLine]) -> None:
        for line in lines:
            if self._writer is None:
                self._writer = logfiles.JsonLinesWriter(self.path.with_name(f".{self.path.name}.tmp"))
                self._writer.__enter__()
            self._writer.write(line.as_json())
            self.count += 1
            if self.count <= QUARANTINE_LOGGED:
                log.warning("log %s line %d quarantined: %s", self.run_id, line.line_no, line.reason)

    def publish(self) -> str | None:
        """Moves the file into place; its path relative to the log directory (None: no line)."""
        if self._writer is None:
            return None
        self._writer.finish()
        logfiles.publish(self._writer.path, self.path)
        return str(self.path.relative_to(self.log_dir))

    def __enter__(self) -> QuarantineFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._writer is not None:
            self._writer.__exit__(*exc_info)
