"""``threekcal backfill``: score all (or some) comments again with another model, through the same
log and apply path as the predict step, so the usual guarantees hold.

The new log's records are stamped now, so they replace older predictions (the apply step only ever
overwrites an older ``prediction_time``); labels, remarks and the label audit are never touched. A
backfill holds its own lock for its whole run and the predict lock only to register and publish its
log, so the worker keeps predicting new comments meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, select

from threekcal.db.session import engine_for
from threekcal.pipeline import batches as batch_rows
from threekcal.pipeline.apply import ApplyReport, apply_logs
from threekcal.pipeline.locks import step_lock
from threekcal.pipeline.predict import (
    DEFAULT_CHUNK_SIZE,
    LOCK_WAIT_FOR_PUBLISH,
    ClassifierLike,
    PredictResult,
    Progress,
    finished_run,
    keyset_chunks,
    write_log,
)
from threekcal.pipeline.runids import check_run_id, new_run_id
from threekcal.settings import Settings

comments = batch_rows.comments


@dataclass(frozen=True)
class BackfillFilter:
    request_user: str | None = None
    since: datetime | None = None  # on request_time
    until: datetime | None = None
    predicted_only: bool = False  # only comments that already have a prediction
    unlabelled_only: bool = False  # only comments no person has labelled (re-scoring after a promotion)

    def condition(self) -> Any:
        parts = []
        if self.request_user is not None:
            parts.append(comments.c.request_user == self.request_user)
        if self.since is not None:
            parts.append(comments.c.request_time >= self.since)
        if self.until is not None:
            parts.append(comments.c.request_time < self.until)
        if self.predicted_only:
            parts.append(comments.c.prediction_result.is_not(None))
        if self.unlabelled_only:
            parts.append(comments.c.label.is_(None))
        return and_(True, *parts)

    def describe(self) -> dict[str, Any]:
        return {
            "request_user": self.request_user,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "predicted_only": self.predicted_only,
            "unlabelled_only": self.unlabelled_only,
        }


def count_matching(database_url: str, selection: BackfillFilter) -> int:
    with engine_for(database_url).connect() as connection:
        return connection.execute(
            select(func.count()).select_from(comments).where(selection.condition())
        ).scalar_one()


def run_backfill(
    settings: Settings,
    classifier: ClassifierLike,
    selection: BackfillFilter = BackfillFilter(),
    *,
    run_id: str | None = None,
    limit: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    engine: str = "local",
    master: str | None = None,
    apply_chunk_size: int | None = None,  # None: THREEKCAL_CHUNK_ROWS
    progress: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
) -> tuple[PredictResult, ApplyReport | None]:
    """Write one backfill log for the selected comments, then apply it (and any other waiting log)."""
    run_id = check_run_id(run_id) if run_id else new_run_id("backfill")
    total = count_matching(settings.database_url, selection)
    limit = total if limit is None else min(limit, total)
    with step_lock(settings.database_url, "backfill", timeout=0) as acquired:
        if not acquired:
            return PredictResult(run_id, "busy", kind=batch_rows.KIND_BACKFILL), None
        with step_lock(settings.database_url, "predict", timeout=LOCK_WAIT_FOR_PUBLISH) as idle:
            if not idle:
                raise TimeoutError("a predict run holds its lock for too long; try the backfill again")
            batch_rows.recover_interrupted_runs(
                settings.database_url, settings.log_dir, kinds=(batch_rows.KIND_BACKFILL,)
            )
        done = finished_run(settings.database_url, run_id, batch_rows.KIND_BACKFILL)
        if done is not None:
            return done, None

        def query(after: int, size: int) -> Select[Any]:
            return (
                select(comments.c.num, comments.c.comments)
                .where(selection.condition(), comments.c.num > after)
                .order_by(comments.c.num)
                .limit(size)
            )

        if on_total:
            on_total(limit)
        result = write_log(
            settings,
            classifier,
            keyset_chunks(settings.database_url, query, limit, chunk_size),
            run_id=run_id,
            kind=batch_rows.KIND_BACKFILL,
            progress=progress,
            details={"filter": selection.describe()},
            lock_held=False,
        )
    if result.status != "written":
        return result, None
    report = apply_logs(
        settings,
        engine=engine,
        master=master,
        chunk_size=apply_chunk_size,
        lock_timeout=LOCK_WAIT_FOR_PUBLISH,
    )
    return result, report
