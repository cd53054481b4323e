"""The local apply engine: SQLAlchemy, one transaction per chunk of a log, resumable, in bounded memory
(the log is read chunk by chunk, never whole).

Each chunk is written into a temporary staging table (private to the connection, nothing to clean up
after a crash) and merged with ``merge.merge_statement``. Each chunk's transaction records how far it
got (``details.apply_progress``), so a killed apply resumes after the last committed chunk; a replayed
chunk changes 0 rows (the ``prediction_time`` guard). The last chunk's transaction marks the batch applied.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence

from sqlalchemy import Column, MetaData, Table, text, update
from sqlalchemy.engine import Connection

from threekcal.db.session import engine_for
from threekcal.pipeline import batches as batch_rows
from threekcal.pipeline import logfiles
from threekcal.pipeline.checkpoints import (
    APPLY_BEFORE_COMMIT,
    APPLY_CHUNK_COMMITTED,
    Checkpoint,
    no_checkpoint,
)
from threekcal.pipeline.merge import (
    UNKNOWN_SAMPLE,
    BatchProgress,
    BatchResult,
    QuarantineFile,
    batches,
    mark_applied,
    merge_predictions,
    staging,
    time_text,
    unknown_nums_query,
)
from threekcal.pipeline.records import ParsedLog, ValidRecord, iter_log_chunks
from threekcal.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_APPLY_CHUNK = 50_000

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


def _apply_chunk_local(
    connection: Connection, chunk: Sequence[ValidRecord], *, ties: bool
) -> tuple[int, list[int]]:
    _drop_local_staging(connection)
    local_staging.create(connection)
    _stage_rows(connection, chunk)
    updated = merge_predictions(connection, local_staging, ties=ties)
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
    checkpoint: Checkpoint = no_checkpoint,
) -> BatchResult | None:
    """Apply one published log with SQLAlchemy; None if stopped between chunks (resumes later).

    The log is read as a stream of chunks (``records.iter_log_chunks``): memory holds the chunk being
    applied and the next one, never the whole log. A resumed apply reads the chunks it already applied
    again (for the counts and the quarantine file) without writing them."""
    started = time.perf_counter()
    path = logfiles.resolve(settings.log_dir, batch.log_path)
    details = dict(batch.details or {})
    resume = details.get("apply_progress") or {}
    if resume.get("chunk_size") != chunk_size:
        resume = {}  # a different chunking: replay from the start (replayed chunks change 0 rows)
    done = int(resume.get("chunks_done", 0))
    applied_rows = int(resume.get("applied_rows", 0))
    unknown: list[int] = list(resume.get("unknown_sample", []))
    unknown_count = int(resume.get("unknown_nums", 0))
    records = valid_lines = 0
    engine = engine_for(settings.database_url)
    chunks = iter_log_chunks(path, batch.run_id, chunk_size)
    following: ParsedLog | None = next(chunks)
    index = -1
    with QuarantineFile(settings, batch.run_id) as quarantine:
        while following is not None:
            index += 1
            current, following = following, next(chunks, None)  # one chunk ahead: is this the last?
            last = following is None
            quarantine.add(current.quarantined)
            records += len(current.records)
            valid_lines += current.valid_lines
            if index < done:
                continue
            if should_stop and should_stop():
                return None
            chunk = current.records
            with engine.begin() as connection:
                # After the first chunk a tie is most likely this log's own earlier line: the later one wins,
                # as it does inside a chunk and in the Spark engine, which reads the whole log at once.
                updated, missing = _apply_chunk_local(connection, chunk, ties=index > 0) if chunk else (0, [])
                applied_rows += updated
                unknown_count += len(missing)
                unknown = sorted(set(unknown) | set(missing))[:UNKNOWN_SAMPLE]
                if last:
                    details.pop("apply_progress", None)
                    details.update(
                        valid_lines=valid_lines,
                        records=records,
                        unknown_sample=unknown,
                        quarantine_path=quarantine.publish(),
                    )
                    mark_applied(
                        connection,
                        batch.run_id,
                        engine="local",
                        applied_rows=applied_rows,
                        unknown_nums=unknown_count,
                        quarantined=quarantine.count,
                        seconds=time.perf_counter() - started,
                        details=details,
                    )
                    checkpoint(APPLY_BEFORE_COMMIT)
                else:
                    details["apply_progress"] = {
                        "chunk_size": chunk_size,
                        "chunks_done": index + 1,
                        "applied_rows": applied_rows,
                        "unknown_nums": unknown_count,
                        "unknown_sample": unknown,
                    }
                    connection.execute(
                        update(batches).where(batches.c.run_id == batch.run_id).values(details=details)
                    )
            if progress:
                progress(batch.run_id, records, max(records, batch.records))
            if not last:
                checkpoint(APPLY_CHUNK_COMMITTED)
    if unknown_count:
        log.warning("log %s: %d records for unknown nums (e.g. %s)", batch.run_id, unknown_count, unknown[:5])
    return BatchResult(
        batch.run_id,
        "local",
        "applied",
        records=records,
        applied_rows=applied_rows,
        unknown_nums=unknown_count,
        quarantined=quarantine.count,
        seconds=time.perf_counter() - started,
    )
