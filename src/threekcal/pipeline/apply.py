"""The apply step's orchestrator: prediction logs -> ``comments``, each log exactly once.

Under the database's apply lock, for each registered log not applied yet (oldest first): validate every
line (invalid lines go to ``quarantine/<run_id>.jsonl`` with the reason), keep the newest record per
num and merge them into ``comments`` (``merge``: only older or missing predictions change; the batch is
marked applied once). Records for nums that are not in ``comments`` are counted and reported, never fatal.

Engines: ``local`` (``apply_local``: SQLAlchemy, one transaction per chunk, resumable; the default on
one machine) and ``spark`` (``spark_apply``: Spark SQL reads, validates and deduplicates; one
transaction merges). Both engines depend on ``merge``; this module depends on both, nothing on it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from threekcal.db.session import engine_for
from threekcal.pipeline import batches as batch_rows
from threekcal.pipeline import logfiles
from threekcal.pipeline.apply_local import DEFAULT_APPLY_CHUNK, apply_batch_local
from threekcal.pipeline.checkpoints import Checkpoint, no_checkpoint
from threekcal.pipeline.locks import step_lock
from threekcal.pipeline.merge import AlreadyApplied, BatchProgress, BatchResult
from threekcal.settings import Settings

log = logging.getLogger(__name__)

ENGINES: tuple[str, ...] = ("local", "spark")

__all__ = ["DEFAULT_APPLY_CHUNK", "ENGINES", "ApplyReport", "apply_logs"]


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


def check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")


def apply_logs(
    settings: Settings,
    *,
    engine: str = "local",
    master: str | None = None,
    chunk_size: int | None = None,
    lock_timeout: float = 0.0,
    progress: BatchProgress | None = None,
    should_stop: Callable[[], bool] | None = None,
    spark: Any = None,
    checkpoint: Checkpoint = no_checkpoint,
) -> ApplyReport:
    """Apply every published, unapplied log (see the module docstring)."""
    check_engine(engine)
    if chunk_size is None:
        chunk_size = settings.chunk_rows  # THREEKCAL_CHUNK_ROWS
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
        apply_one: Callable[[batch_rows.BatchRow], BatchResult | None]
        if engine == "spark":
            from threekcal.pipeline.spark_apply import apply_batch_spark
            from threekcal.pipeline.sparksession import spark_for

            session = spark or spark_for(settings, master)

            def apply_one(batch: batch_rows.BatchRow) -> BatchResult | None:
                return apply_batch_spark(settings, session, batch, checkpoint=checkpoint)
        else:

            def apply_one(batch: batch_rows.BatchRow) -> BatchResult | None:
                return apply_batch_local(
                    settings,
                    batch,
                    chunk_size=chunk_size,
                    progress=progress,
                    should_stop=should_stop,
                    checkpoint=checkpoint,
                )

        for batch in ready:
            if should_stop and should_stop():
                report.stopped = True
                break
            try:
                result = apply_one(batch)
            except AlreadyApplied:
                result = BatchResult(batch.run_id, engine, "already-applied")
            if result is None:
                report.stopped = True
                break
            report.batches.append(result)
            log.info(result.summary())
    return report
