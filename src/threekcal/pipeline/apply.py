"""The apply step: prediction logs -> ``comments``, each log exactly once.

For each registered log not applied yet (oldest first), under the database's apply lock:

1. read and validate every line (``records.parse_log``); invalid lines go to
   ``quarantine/<run_id>.jsonl`` with the reason, the rest is applied; keep the newest record per num;
2. write the records, a chunk per transaction, into a staging table and merge it into ``comments``
   with one set-based UPDATE. Only ``prediction_result, prediction_score, prediction_scores,
   prediction_time, model_version`` change, and only where the stored ``prediction_time`` is NULL or
   older than the record's: a late, older log never overwrites a newer prediction, and never touches
   ``label``, ``remark`` or the label audit;
3. the last chunk's transaction also marks the batch applied (counts, duration, engine), guarded by
   ``applied_at IS NULL``: a batch is applied once.

Crash safety: each chunk's transaction records how far it got (``details.apply_progress``), so a
killed apply resumes after the last committed chunk; a chunk that is replayed anyway changes 0 rows
(the ``prediction_time`` guard), so re-applying a batch changes nothing. Records for nums that are not
in ``comments`` (deleted, unknown) are counted and reported, never fatal.

Engines: ``local`` (SQLAlchemy, a temporary staging table per chunk; the default on one machine) and
``spark`` (``spark_apply``: PySpark reads, validates and deduplicates; one transaction merges).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, Literal

from sqlalchemy import Column, MetaData, Table, exists, or_, select, text, update
from sqlalchemy.engine import Connection

from threekcal.db.models import Comment, PredictionBatch, PredictionStaging
from threekcal.db.session import engine_for
from threekcal.db.types import utcnow
from threekcal.pipeline import batches as batch_rows
from threekcal.pipeline import logfiles
from threekcal.pipeline.locks import step_lock
from threekcal.pipeline.records import ParsedLog, ValidRecord, parse_log
from threekcal.pipeline.testhooks import pause_point
from threekcal.settings import Settings

log = logging.getLogger(__name__)

Engine = Literal["local", "spark"]
ENGINES: tuple[str, ...] = ("local", "spark")
DEFAULT_APPLY_CHUNK = 50_000
UNKNOWN_SAMPLE = 20
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

# The local engine's staging table: temporary, so it is private to the connection and never needs
# cleaning up after a crash.
LOCAL_STAGING_NAME = "threekcal_apply_staging"
local_staging = Table(
    LOCAL_STAGING_NAME,
    MetaData(),
    *[
        Column(column.name, column.type, primary_key=column.primary_key, nullable=column.nullable)
        for column in staging.columns
        if column.name != "run_id"
    ],
    prefixes=["TEMPORARY"],
)

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


@dataclass
class ApplyReport:
    batches: list[BatchResult] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # registered, log not published yet
    busy: bool = False
    stopped: bool = False

    @property
    def applied_rows(self) -> int:
        return sum(batch.applied_rows for batch in self.batches)

    def summary(self) -> str:
        if self.busy:
            return "apply: another apply is running on this database (skipped)"
        applied = [batch for batch in self.batches if batch.status == "applied"]
        unknown = sum(batch.unknown_nums for batch in applied)
        quarantined = sum(batch.quarantined for batch in applied)
        text_ = (
            f"apply: {len(applied)} logs applied, {self.applied_rows} rows updated, "
            f"{unknown} unknown nums, {quarantined} lines quarantined"
        )
        if self.waiting:
            text_ += f"; {len(self.waiting)} logs not published yet"
        if self.stopped:
            text_ += "; stopped early (the rest applies next time)"
        return text_


def time_text(record: ValidRecord) -> str:
    """UTC time as both backends store and compare it (SQLAlchemy's SQLite format; MariaDB DATETIME(6))."""
    return record.prediction_time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def merge_statement(source: Table, run_id: str | None = None) -> Any:
    """UPDATE comments from ``source`` where the stored prediction is missing or older."""
    conditions = [
        comments.c.num == source.c.num,
        or_(comments.c.prediction_time.is_(None), comments.c.prediction_time < source.c.prediction_time),
    ]
    if run_id is not None:
        conditions.append(source.c.run_id == run_id)
    return update(comments).where(*conditions).values({name: source.c[name] for name in PREDICTION_COLUMNS})


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


def write_quarantine(settings: Settings, run_id: str, parsed: ParsedLog) -> str | None:
    if not parsed.quarantined:
        return None
    path = logfiles.quarantine_path(settings.log_dir, run_id)
    logfiles.write_json_lines_atomically(path, (line.as_json() for line in parsed.quarantined))
    for line in parsed.quarantined[:5]:
        log.warning("log %s line %d quarantined: %s", run_id, line.line_no, line.reason)
    return str(path.relative_to(settings.log_dir))


def _drop_local_staging(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        connection.execute(text(f"DROP TABLE IF EXISTS temp.{LOCAL_STAGING_NAME}"))
    else:  # TEMPORARY: a plain DROP TABLE would commit the transaction on MariaDB
        connection.execute(text(f"DROP TEMPORARY TABLE IF EXISTS {LOCAL_STAGING_NAME}"))


def _stage_rows(connection: Connection, chunk: Sequence[ValidRecord]) -> None:
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    columns = [column.name for column in local_staging.columns]
    # Driver-level executemany (PyMySQL sends it as multi-row INSERTs) with values pre-serialized
    # exactly as the column types store them: the type processors cost more than the database here.
    placeholders = ", ".join([marker] * len(columns))
    connection.exec_driver_sql(
        f"INSERT INTO {LOCAL_STAGING_NAME} ({', '.join(columns)}) VALUES ({placeholders})",
        [
            (
                record.num,
                record.prediction_result,
                record.prediction_score,
                json.dumps(record.prediction_scores),
                time_text(record),
                record.model_version,
            )
            for record in chunk
        ],
    )


def _apply_chunk_local(connection: Connection, chunk: Sequence[ValidRecord]) -> tuple[int, list[int]]:
    _drop_local_staging(connection)
    local_staging.create(connection)
    _stage_rows(connection, chunk)
    updated = connection.execute(merge_statement(local_staging)).rowcount
    unknown = list(connection.execute(unknown_nums_query(local_staging)).scalars())
    _drop_local_staging(connection)
    return updated, unknown


def apply_batch_local(
    settings: Settings,
    batch: batch_rows.BatchRow,
    *,
    chunk_size: int = DEFAULT_APPLY_CHUNK,
    progress: BatchProgress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> BatchResult | None:
    """Apply one published log with SQLAlchemy; None if stopped between chunks (resumes later)."""
    started = time.perf_counter()
    parsed = parse_log(logfiles.resolve(settings.log_dir, batch.log_path), batch.run_id)
    quarantine = write_quarantine(settings, batch.run_id, parsed)
    records = parsed.records
    chunks = [records[start : start + chunk_size] for start in range(0, len(records), chunk_size)] or [[]]
    details = dict(batch.details or {})
    resume = details.get("apply_progress") or {}
    if resume.get("chunk_size") != chunk_size or resume.get("records") != len(records):
        resume = {}  # a different chunking: replay from the start (replayed chunks change 0 rows)
    done = int(resume.get("chunks_done", 0))
    applied_rows = int(resume.get("applied_rows", 0))
    unknown: list[int] = list(resume.get("unknown_sample", []))
    unknown_count = int(resume.get("unknown_nums", 0))
    engine = engine_for(settings.database_url)
    for index, chunk in enumerate(chunks):
        if index < done:
            continue
        if should_stop and should_stop():
            return None
        last = index == len(chunks) - 1
        with engine.begin() as connection:
            updated, missing = _apply_chunk_local(connection, chunk) if chunk else (0, [])
            applied_rows += updated
            unknown_count += len(missing)
            unknown = sorted(set(unknown) | set(missing))[:UNKNOWN_SAMPLE]
            if last:
                details.pop("apply_progress", None)
                details.update(
                    valid_lines=parsed.valid_lines,
                    records=len(records),
                    unknown_sample=unknown,
                    quarantine_path=quarantine,
                )
                mark_applied(
                    connection,
                    batch.run_id,
                    engine="local",
                    applied_rows=applied_rows,
                    unknown_nums=unknown_count,
                    quarantined=len(parsed.quarantined),
                    seconds=time.perf_counter() - started,
                    details=details,
                )
                pause_point("apply:before-commit")
            else:
                details["apply_progress"] = {
                    "chunk_size": chunk_size,
                    "records": len(records),
                    "chunks_done": index + 1,
                    "applied_rows": applied_rows,
                    "unknown_nums": unknown_count,
                    "unknown_sample": unknown,
                }
                connection.execute(
                    update(batches).where(batches.c.run_id == batch.run_id).values(details=details)
                )
        if progress:
            progress(batch.run_id, min((index + 1) * chunk_size, len(records)), len(records))
        if not last:
            pause_point("apply:chunk-committed")
    if unknown_count:
        log.warning("log %s: %d records for unknown nums (e.g. %s)", batch.run_id, unknown_count, unknown[:5])
    return BatchResult(
        batch.run_id,
        "local",
        "applied",
        records=len(records),
        applied_rows=applied_rows,
        unknown_nums=unknown_count,
        quarantined=len(parsed.quarantined),
        seconds=time.perf_counter() - started,
    )


def apply_logs(
    settings: Settings,
    *,
    engine: str = "local",
    master: str | None = None,
    chunk_size: int = DEFAULT_APPLY_CHUNK,
    lock_timeout: float = 0.0,
    progress: BatchProgress | None = None,
    should_stop: Callable[[], bool] | None = None,
    spark: Any = None,
) -> ApplyReport:
    """Apply every published, unapplied log (see the module docstring)."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
    if chunk_size < 1:
        raise ValueError("chunk size must be at least 1")
    report = ApplyReport()
    with step_lock(settings.database_url, "apply", timeout=lock_timeout) as acquired:
        if not acquired:
            report.busy = True
            return report
        # A killed predict's log is published here too when no predict is running right now.
        with step_lock(settings.database_url, "predict", timeout=0) as predict_idle:
            if predict_idle:
                batch_rows.recover_interrupted_runs(
                    settings.database_url, settings.log_dir, kinds=(batch_rows.KIND_PREDICT,)
                )
        with engine_for(settings.database_url).connect() as connection:
            waiting = batch_rows.unapplied_batches(connection)
        ready = []
        for batch in waiting:
            if logfiles.resolve(settings.log_dir, batch.log_path).exists():
                ready.append(batch)
            else:
                report.waiting.append(batch.run_id)
        if not ready:
            return report
        session = None
        if engine == "spark":
            from threekcal.pipeline.spark_apply import apply_batch_spark
            from threekcal.pipeline.sparksession import get_spark

            session = spark or get_spark(master)
        for batch in ready:
            if should_stop and should_stop():
                report.stopped = True
                break
            try:
                if engine == "spark":
                    result = apply_batch_spark(settings, session, batch)
                else:
                    result = apply_batch_local(
                        settings, batch, chunk_size=chunk_size, progress=progress, should_stop=should_stop
                    )
            except AlreadyApplied:
                result = BatchResult(batch.run_id, engine, "already-applied")
            if result is None:
                report.stopped = True
                break
            report.batches.append(result)
            log.info(result.summary())
    return report
