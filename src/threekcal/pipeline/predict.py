"""The predict step: pending comments -> model -> one prediction log per run.

A run, under the database's predict lock (one predict at a time, whoever starts it):

1. recover what a killed run left (``batches.recover_interrupted_runs``);
2. if a batch with this run id exists, stop: the run already happened (an Airflow retry);
3. read pending comments in chunks by num, classify each chunk, write its records to
   ``.incoming/predict/<run_id>.jsonl``; then flush and fsync it;
4. register the batch (run id, final path, record count, min and max num) in one transaction;
   from now on those comments are claimed: no later run selects them until the log is applied;
5. rename the file to ``date=YYYY-MM-DD/<run_id>.jsonl`` (atomic) and fsync the directory.

What a crash (SIGKILL, power loss) at each point leaves, and what the next run does with it:

- during 3: a partial temporary file, no batch row. The comments were never claimed and are still
  pending; the next predict deletes the file and predicts them again. Nothing lost, nothing applied.
- between 3 and 4: a complete temporary file, no batch row: the same as above.
- between 4 and 5: a batch row and a complete, fsynced temporary file, no log. The next predict (or an
  apply that can take the predict lock) publishes the file, as the dead run would have; the comments
  stay claimed in between, so they are not predicted twice.
- after 5: a normal log; apply applies it.
- the log disappears before it is applied (deleted by hand): recovery closes the batch with a note,
  releasing its comments, which the next predict scores again.

Claims are num ranges: a comment inside an unapplied log's range but not in the log (inserted by a
transaction that committed late) waits until that log is applied, then is pending again. Never lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from sqlalchemy import Select

from threekcal.db.session import engine_for
from threekcal.db.types import utcnow
from threekcal.pipeline import batches as batch_rows
from threekcal.pipeline import logfiles
from threekcal.pipeline.checkpoints import (
    PREDICT_LOG_WRITTEN,
    PREDICT_REGISTERED,
    Checkpoint,
    no_checkpoint,
)
from threekcal.pipeline.locks import step_lock
from threekcal.pipeline.records import log_record
from threekcal.pipeline.runids import check_run_id, new_run_id
from threekcal.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_PREDICT_LIMIT = 20_000  # comments per run: bounds a run's time and its log's size
DEFAULT_CHUNK_SIZE = 256  # comments read and classified at a time
LOCK_WAIT_FOR_PUBLISH = 600.0  # a backfill waits this long for a running predict before publishing

PredictStatus = Literal["written", "nothing-pending", "already-done", "busy", "stopped"]
Progress = Callable[[int], None]
ShouldStop = Callable[[], bool]


class PredictionLike(Protocol):
    label: str
    score: float
    scores: dict[str, float]


class ClassifierLike(Protocol):
    """What the pipeline needs of ``threekcal.model.Classifier``."""

    model_version: str

    def predict(self, texts: Sequence[str]) -> Sequence[PredictionLike]: ...


@dataclass
class PredictResult:
    run_id: str
    status: PredictStatus
    kind: str = batch_rows.KIND_PREDICT
    records: int = 0
    log_path: str | None = None
    seconds: float = 0.0
    model_version: str | None = None

    def summary(self) -> str:
        if self.status == "written":
            rate = self.records / self.seconds if self.seconds else 0.0
            return (
                f"{self.kind} {self.run_id}: {self.records} predictions in {self.seconds:.2f} s "
                f"({rate:.0f}/s) -> {self.log_path}"
            )
        explanations = {
            "nothing-pending": "no pending comments",
            "already-done": "this run id already wrote its log (nothing to do)",
            "busy": "another predict is running on this database (skipped)",
            "stopped": "stopped before finishing; nothing was written, the comments stay pending",
        }
        return f"{self.kind} {self.run_id}: {explanations[self.status]}"


class _Stopped(Exception):
    pass


def finished_run(database_url: str, run_id: str, kind: str) -> PredictResult | None:
    """The result of ``run_id`` if its log was already written: a re-run (a retried task) does nothing."""
    with engine_for(database_url).connect() as connection:
        existing = batch_rows.get_batch(connection, run_id)
    if existing is None:
        return None
    return PredictResult(
        run_id,
        "already-done",
        kind=kind,
        records=existing.records,
        log_path=existing.log_path,
        model_version=existing.model_version,
    )


def pending_chunks(database_url: str, limit: int, chunk_size: int) -> Iterator[list[tuple[int, str]]]:
    """Pending comments in num order, ``chunk_size`` at a time, at most ``limit`` in all."""
    yield from keyset_chunks(database_url, batch_rows.pending_chunk_query, limit, chunk_size)


def keyset_chunks(
    database_url: str,
    query: Callable[[int, int], Select[Any]],
    limit: int,
    chunk_size: int,
) -> Iterator[list[tuple[int, str]]]:
    after, remaining = 0, limit
    engine = engine_for(database_url)
    while remaining > 0:
        with engine.connect() as connection:
            rows = [(num, text) for num, text in connection.execute(query(after, min(chunk_size, remaining)))]
        if not rows:
            return
        yield rows
        after = rows[-1][0]
        remaining -= len(rows)


@dataclass
class _WrittenLog:
    temporary: Path
    records: int
    num_min: int
    num_max: int
    seconds: float


def _classify_to_file(
    classifier: ClassifierLike,
    chunks: Iterator[list[tuple[int, str]]],
    temporary: Path,
    run_id: str,
    progress: Progress | None,
    should_stop: ShouldStop | None,
) -> _WrittenLog | None:
    started = time.perf_counter()
    num_min = num_max = 0
    with logfiles.JsonLinesWriter(temporary) as writer:
        for chunk in chunks:
            if should_stop and should_stop():
                raise _Stopped
            # A blank text (only possible by writing to the database directly) cannot be classified;
            # skipping it keeps it pending without blocking the rest of the queue.
            scorable = [(num, text) for num, text in chunk if text.strip()]
            if len(scorable) < len(chunk):
                skipped = sorted({num for num, _ in chunk} - {num for num, _ in scorable})
                log.warning("skipped comments with blank text (cannot be classified): %s", skipped)
            predictions = classifier.predict([text for _, text in scorable]) if scorable else []
            if len(predictions) != len(scorable):
                raise RuntimeError(
                    f"the model returned {len(predictions)} predictions for {len(scorable)} texts"
                )
            predicted_at = utcnow()
            for (num, _), prediction in zip(scorable, predictions, strict=True):
                writer.write(
                    log_record(
                        num=num,
                        label=prediction.label,
                        score=prediction.score,
                        scores=prediction.scores,
                        model_version=classifier.model_version,
                        prediction_time=predicted_at,
                        run_id=run_id,
                    )
                )
            num_min = num_min or chunk[0][0]
            num_max = max(num_max, chunk[-1][0])
            if progress:
                progress(len(chunk))
        if writer.lines == 0:
            return None
        writer.finish()
    return _WrittenLog(temporary, writer.lines, num_min, num_max, time.perf_counter() - started)


def write_log(
    settings: Settings,
    classifier: ClassifierLike,
    chunks: Iterator[list[tuple[int, str]]],
    *,
    run_id: str,
    kind: str,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
    details: dict[str, Any] | None = None,
    lock_held: bool,
    checkpoint: Checkpoint = no_checkpoint,
) -> PredictResult:
    """Classify ``chunks`` into a log, register it and publish it (steps 3 to 5 above).

    ``lock_held``: the caller holds the predict lock for the whole run (predict); otherwise it is
    taken for registering and publishing only (backfill), which is all recovery needs.
    """
    created_at = utcnow()
    relpath = logfiles.log_relpath(run_id, created_at.date())
    temporary = logfiles.incoming_path(settings.log_dir, kind, run_id)
    try:
        written = _classify_to_file(classifier, chunks, temporary, run_id, progress, should_stop)
    except _Stopped:
        return PredictResult(run_id, "stopped", kind=kind)
    if written is None:
        return PredictResult(run_id, "nothing-pending", kind=kind)
    checkpoint(PREDICT_LOG_WRITTEN)

    def register_and_publish() -> None:
        batch_rows.register_batch(
            settings.database_url,
            run_id=run_id,
            log_path=relpath,
            kind=kind,
            model_version=classifier.model_version,
            records=written.records,
            num_min=written.num_min,
            num_max=written.num_max,
            created_at=created_at,
            predict_seconds=written.seconds,
            details=details,
        )
        checkpoint(PREDICT_REGISTERED)
        logfiles.publish(written.temporary, logfiles.resolve(settings.log_dir, relpath))

    if lock_held:
        register_and_publish()
    else:
        with step_lock(settings.database_url, "predict", timeout=LOCK_WAIT_FOR_PUBLISH) as acquired:
            if not acquired:
                raise TimeoutError("could not take the predict lock to publish the log; run it again")
            register_and_publish()
    return PredictResult(
        run_id,
        "written",
        kind=kind,
        records=written.records,
        log_path=relpath,
        seconds=written.seconds,
        model_version=classifier.model_version,
    )


def predict_pending(
    settings: Settings,
    classifier: ClassifierLike,
    *,
    run_id: str | None = None,
    limit: int = DEFAULT_PREDICT_LIMIT,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    lock_timeout: float = 0.0,
    progress: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
    should_stop: ShouldStop | None = None,
    details: dict[str, Any] | None = None,
    checkpoint: Checkpoint = no_checkpoint,
) -> PredictResult:
    """One predict run (see the module docstring). Safe to call again with the same ``run_id``.

    ``details`` is stored with the batch (e.g. the Airflow run id it came from).
    """
    run_id = check_run_id(run_id) if run_id else new_run_id("predict")
    if limit < 1 or chunk_size < 1:
        raise ValueError("limit and chunk size must be at least 1")
    with step_lock(settings.database_url, "predict", timeout=lock_timeout) as acquired:
        if not acquired:
            return PredictResult(run_id, "busy")
        batch_rows.recover_interrupted_runs(
            settings.database_url, settings.log_dir, kinds=(batch_rows.KIND_PREDICT,)
        )
        done = finished_run(settings.database_url, run_id, batch_rows.KIND_PREDICT)
        if done is not None:
            return done
        if on_total:
            on_total(min(batch_rows.count_pending(settings.database_url), limit))
        result = write_log(
            settings,
            classifier,
            pending_chunks(settings.database_url, limit, chunk_size),
            run_id=run_id,
            kind=batch_rows.KIND_PREDICT,
            progress=progress,
            should_stop=should_stop,
            details=details,
            lock_held=True,
            checkpoint=checkpoint,
        )
    if result.status == "written":
        log.info(result.summary())
    return result
