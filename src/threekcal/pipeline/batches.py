"""The ``prediction_batches`` bookkeeping: which comments are pending, which logs wait to be applied,
and the recovery of a predict run that died between registering its log and renaming it into place.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Select, and_, exists, func, insert, select, update
from sqlalchemy.engine import Connection

from threekcal.db.models import Comment, PredictionBatch
from threekcal.db.session import engine_for
from threekcal.db.types import utcnow
from threekcal.pipeline import logfiles

log = logging.getLogger(__name__)

comments = Comment.__table__
batches = PredictionBatch.__table__

KIND_PREDICT = "predict"
KIND_BACKFILL = "backfill"
KINDS = (KIND_PREDICT, KIND_BACKFILL)
VOID_NOTE = "log file missing when recovering an interrupted run; its comments are pending again"


def claimed_by_unapplied_log() -> Any:
    """True for a comment inside the num range of a registered log that is not applied yet."""
    return exists().where(
        batches.c.applied_at.is_(None),
        batches.c.num_min.is_not(None),
        comments.c.num.between(batches.c.num_min, batches.c.num_max),
    )


def pending_condition() -> Any:
    """Pending: no prediction, and no log waiting to be applied claims it."""
    return and_(comments.c.prediction_result.is_(None), ~claimed_by_unapplied_log())


def count_pending(database_url: str) -> int:
    with engine_for(database_url).connect() as connection:
        return connection.execute(
            select(func.count()).select_from(comments).where(pending_condition())
        ).scalar_one()


def pending_chunk_query(after: int, size: int) -> Select[Any]:
    return (
        select(comments.c.num, comments.c.comments)
        .where(pending_condition(), comments.c.num > after)
        .order_by(comments.c.num)
        .limit(size)
    )


@dataclass(frozen=True)
class BatchRow:
    run_id: str
    log_path: str
    kind: str
    model_version: str | None
    records: int
    created_at: datetime
    applied_at: datetime | None
    details: dict[str, Any] | None
    num_min: int | None
    num_max: int | None


_BATCH_COLUMNS = [getattr(batches.c, name) for name in BatchRow.__dataclass_fields__]


def get_batch(connection: Connection, run_id: str) -> BatchRow | None:
    row = connection.execute(select(*_BATCH_COLUMNS).where(batches.c.run_id == run_id)).first()
    return BatchRow(*row) if row else None


def unapplied_batches(connection: Connection) -> list[BatchRow]:
    rows = connection.execute(
        select(*_BATCH_COLUMNS)
        .where(batches.c.applied_at.is_(None))
        .order_by(batches.c.created_at, batches.c.run_id)
    )
    return [BatchRow(*row) for row in rows]


def register_batch(
    database_url: str,
    *,
    run_id: str,
    log_path: str,
    kind: str,
    model_version: str,
    records: int,
    num_min: int,
    num_max: int,
    created_at: datetime,
    predict_seconds: float,
    details: dict[str, Any] | None = None,
) -> None:
    with engine_for(database_url).begin() as connection:
        connection.execute(
            insert(batches).values(
                run_id=run_id,
                log_path=log_path,
                kind=kind,
                model_version=model_version,
                records=records,
                num_min=num_min,
                num_max=num_max,
                created_at=created_at,
                predict_seconds=predict_seconds,
                details=details,
            )
        )


def recover_interrupted_runs(database_url: str, log_dir: Path, kinds: tuple[str, ...] = KINDS) -> list[str]:
    """Finish what a killed predict or backfill left; the caller holds the predict lock.

    The lock guarantees no live run is between registering a batch and publishing its log, so:
    - a registered, unapplied batch without its log but with its complete temporary file (fsynced
      before registering) gets the file published, as the dead run would have done;
    - one with neither is closed with a note (nothing to apply), which releases its comments;
    - a temporary file of ``kinds`` that no batch names was never registered: deleted (its comments
      were never claimed, so they are still pending).
    Returns one line per action, for the caller's log.
    """
    actions: list[str] = []
    engine = engine_for(database_url)
    with engine.connect() as connection:
        waiting = unapplied_batches(connection)
    for batch in waiting:
        final = logfiles.resolve(log_dir, batch.log_path)
        if final.exists():
            continue
        temporary = logfiles.incoming_path(log_dir, batch.kind, batch.run_id)
        if temporary.exists():
            logfiles.publish(temporary, final)
            actions.append(f"published the complete log of interrupted run {batch.run_id}")
            continue
        with engine.begin() as connection:
            connection.execute(
                update(batches)
                .where(batches.c.run_id == batch.run_id, batches.c.applied_at.is_(None))
                .values(applied_at=utcnow(), applied_rows=0, unknown_nums=0, quarantined=0, note=VOID_NOTE)
            )
        actions.append(f"closed run {batch.run_id}: {VOID_NOTE}")
    for kind in kinds:
        folder = log_dir / logfiles.INCOMING_DIR / kind
        if not folder.is_dir():
            continue
        for temporary in folder.glob(f"*{logfiles.LOG_SUFFIX}"):
            run_id = temporary.name.removesuffix(logfiles.LOG_SUFFIX)
            with engine.connect() as connection:
                registered = get_batch(connection, run_id)
            if registered is None or registered.applied_at is not None:
                temporary.unlink(missing_ok=True)
                actions.append(f"deleted the unfinished log of interrupted run {run_id}")
    for action in actions:
        log.warning(action)
    return actions
