"""The embedded worker: predict, then apply (local engine), every few seconds, in one process.

It loads the model once. SIGTERM or Ctrl-C asks it to stop: the step in progress stops at its next
chunk boundary (an unfinished log is deleted, an unfinished apply resumes next time) and the process
exits 0. A second signal exits at once, which is safe too: every write is atomic (see ``predict`` and
``apply``).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Protocol

from threekcal.db.session import refresh_planner_statistics
from threekcal.pipeline.apply import apply_logs
from threekcal.pipeline.checkpoints import Checkpoint, no_checkpoint
from threekcal.pipeline.predict import DEFAULT_PREDICT_LIMIT, ClassifierLike, predict_pending
from threekcal.pipeline.runids import new_run_id
from threekcal.settings import Settings

log = logging.getLogger(__name__)

ERROR_BACKOFF_SECONDS = 5.0
PLANNER_STATISTICS_EVERY_SECONDS = 3600.0  # the table's shape changes slowly; ANALYZE is cheap


class ClassifierSource(Protocol):
    """Gives the classifier of each cycle (``threekcal.pipeline.active_model.ActiveClassifier``)."""

    def current(self) -> ClassifierLike: ...


def classifier_for_cycle(source: ClassifierLike | ClassifierSource) -> ClassifierLike:
    """A fixed classifier, or the registry's active version read again this cycle (so a promotion takes
    effect without a restart)."""
    current = getattr(source, "current", None)
    return current() if callable(current) else source  # type: ignore[return-value]


class StopFlag:
    """Set by SIGTERM/SIGINT; a second signal exits immediately."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def is_set(self) -> bool:
        return self.event.is_set()

    def wait(self, seconds: float) -> bool:
        return self.event.wait(seconds)

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.event.is_set():
            raise SystemExit(128 + signum)
        log.info("worker: %s received, stopping after the current step", signal.Signals(signum).name)
        self.event.set()

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self.handle)
        signal.signal(signal.SIGINT, self.handle)


def run_cycle(
    settings: Settings,
    classifier: ClassifierLike,
    *,
    predict_limit: int = DEFAULT_PREDICT_LIMIT,
    apply_chunk_size: int | None = None,
    should_stop: Callable[[], bool] | None = None,
    checkpoint: Checkpoint = no_checkpoint,
) -> bool:
    """One predict + apply; True if it did any work (and logged a line)."""
    started = time.perf_counter()
    predicted = predict_pending(
        settings,
        classifier,
        run_id=new_run_id("worker"),
        limit=predict_limit,
        should_stop=should_stop,
        checkpoint=checkpoint,
    )
    applied = apply_logs(
        settings,
        engine="local",
        chunk_size=apply_chunk_size,
        should_stop=should_stop,
        checkpoint=checkpoint,
    )
    did_work = predicted.status == "written" or bool(applied.batches)
    if did_work:
        log.info(
            "worker cycle: %d predicted, %d logs applied (%d rows, %d unknown, %d quarantined) in %.2f s",
            predicted.records,
            len(applied.batches),
            applied.applied_rows,
            sum(batch.unknown_nums for batch in applied.batches),
            sum(batch.quarantined for batch in applied.batches),
            time.perf_counter() - started,
        )
    return did_work


def run_worker(
    settings: Settings,
    classifier: ClassifierLike | ClassifierSource,
    *,
    interval: float | None = None,
    once: bool = False,
    predict_limit: int = DEFAULT_PREDICT_LIMIT,
    apply_chunk_size: int | None = None,
    stop: StopFlag | None = None,
    checkpoint: Checkpoint = no_checkpoint,
    between_cycles: Callable[[], object] | None = None,
) -> int:
    """Loop until stopped; returns the exit code (0). ``classifier`` may be a ``ClassifierSource``."""
    stop = stop or StopFlag()
    interval = settings.worker_interval if interval is None else interval
    log.info("worker: a cycle every %.1f s", interval)
    statistics_refreshed = time.monotonic()
    while not stop.is_set():
        wait = interval
        try:
            run_cycle(
                settings,
                classifier_for_cycle(classifier),
                predict_limit=predict_limit,
                apply_chunk_size=apply_chunk_size,
                should_stop=stop.is_set,
                checkpoint=checkpoint,
            )
            if time.monotonic() - statistics_refreshed > PLANNER_STATISTICS_EVERY_SECONDS:
                refresh_planner_statistics(settings.database_url)
                statistics_refreshed = time.monotonic()
            if between_cycles:  # e.g. start a queued training job in a child process
                between_cycles()
        except SystemExit:
            raise
        except Exception:  # a database that went away: log it, keep the worker alive, retry
            log.exception("worker cycle failed; retrying in %.0f s", max(interval, ERROR_BACKOFF_SECONDS))
            wait = max(interval, ERROR_BACKOFF_SECONDS)
        if once:
            break
        stop.wait(wait)
    log.info("worker: stopped")
    return 0
