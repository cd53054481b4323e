"""Running the queued model jobs (train, re-score) outside the API: the worker or Airflow calls these.

``run_job`` runs one claimed job in this process and records its progress, log tail and result.
``launch_queued_job`` is the worker's non-blocking variant: it starts ``threekcal train --job ID`` as a
child process, so predictions go on while a model trains; a job whose process dies is marked failed
once its heartbeat is older than THREEKCAL_JOB_STALE_SECONDS.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections import deque
from datetime import timedelta
from typing import Any

from threekcal.db import registry
from threekcal.db.session import session_factory
from threekcal.settings import Settings

log = logging.getLogger(__name__)
LOG_LINES = 40

_children: list[subprocess.Popen[bytes]] = []


def _session(settings: Settings):  # type: ignore[no-untyped-def]
    return session_factory(settings.database_url)()


def run_job(settings: Settings, job_id: int) -> dict[str, Any]:
    """Run job ``job_id`` (claimed already, or claimed here when still queued); returns its summary."""
    from threekcal.model.training import TrainRequest, train_version
    from threekcal.model.training_data import DEFAULT_LABEL_SOURCES, TrainingDataError

    with _session(settings) as session:
        job = registry.get_job(session, job_id)
        if job.state in ("succeeded", "failed"):
            raise registry.RegistryError(f"job {job_id} already {job.state}; queue a new one")
        if job.state == "queued":
            claimed = registry.claim_next_job(session, kinds=(job.kind,))
            if claimed is None or claimed.id != job_id:
                raise registry.RegistryError(f"job {job_id} could not be claimed (another runner took it)")
        kind, params, author = job.kind, dict(job.params or {}), job.created_by
    lines: deque[str] = deque(maxlen=LOG_LINES)

    def report(progress: float, line: str) -> None:
        lines.append(line)
        with _session(settings) as session:
            registry.job_progress(session, job_id, progress=progress, log_tail="\n".join(lines))

    try:
        if kind == "rescore":
            result = rescore_unlabelled(settings, report=report)
            version_id = None
        else:
            outcome = train_version(
                settings,
                TrainRequest(
                    author=author,
                    base_version_id=params.get("base_version_id"),
                    epochs=params.get("epochs"),
                    learning_rate=params.get("learning_rate"),
                    label_sources=params.get("label_sources") or DEFAULT_LABEL_SOURCES,
                    job_id=job_id,
                ),
                report=report,
            )
            version_id = outcome.version_id
            result = {"version_id": version_id, "verdict": outcome.verdict, "path": str(outcome.path)}
        lines.append(f"done: {result}")
        succeeded = True
    except (TrainingDataError, registry.RegistryError) as exc:
        lines.append(f"error: {exc}")
        succeeded, version_id, result = False, None, {"error": str(exc)}
    except Exception as exc:  # recorded on the job, then re-raised so the runner (Airflow) sees it
        lines.append(f"failed: {exc.__class__.__name__}: {exc}")
        with _session(settings) as session:
            registry.finish_job(session, job_id, succeeded=False, log_tail="\n".join(lines))
        raise
    with _session(settings) as session:
        registry.finish_job(
            session, job_id, succeeded=succeeded, log_tail="\n".join(lines), result_version_id=version_id
        )
    return {"job_id": job_id, "state": "succeeded" if succeeded else "failed", **result}


def rescore_unlabelled(settings: Settings, *, report: Any = None) -> dict[str, Any]:
    """Score every unlabelled comment again with the active model (the backfill path)."""
    from threekcal.pipeline.active_model import ActiveClassifier
    from threekcal.pipeline.backfill import BackfillFilter, run_backfill

    classifier = ActiveClassifier(settings).current()
    total = {"count": 0}

    def progress(done: int) -> None:
        total["count"] += done
        if report:
            report(0.5, f"re-scored {total['count']} comments")

    result, _ = run_backfill(
        settings, classifier, BackfillFilter(unlabelled_only=True), engine="local", progress=progress
    )
    return {"rescored": result.records, "model_version": classifier.model_version, "status": result.status}


def launch_queued_job(settings: Settings) -> int | None:
    """Start the oldest queued job in a child process unless one of ours still runs; its id or None."""
    _children[:] = [child for child in _children if child.poll() is None]
    with _session(settings) as session:
        registry.fail_stale_jobs(session, stale_after=timedelta(seconds=settings.job_stale_seconds))
        if _children:
            return None
        job = registry.claim_next_job(session)
        if job is None:
            return None
    command = [sys.executable, "-m", "threekcal.cli", "train", "--job", str(job.id)]
    _children.append(subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True))
    log.info("started %s job %d: %s", job.kind, job.id, " ".join(command))
    return job.id
