"""What the ``retrain_emotion`` DAG runs: queued jobs first, otherwise a training run when enough new
labels arrived since the last one; the candidate is evaluated and registered, and promoted only when
``auto_promote`` is set and its verdict is "better". Plain Python: no Airflow import here."""

from __future__ import annotations

from typing import Any

from threekcal.db import registry
from threekcal.db.session import session_factory
from threekcal.model.training_data import count_labelled_since
from threekcal.pipeline.model_jobs import run_job
from threekcal.settings import Settings

AIRFLOW_AUTHOR = "airflow"


def run_retrain(
    settings: Settings, *, auto_promote: bool = False, min_new_labels: int | None = None
) -> dict[str, Any]:
    """One retraining turn; ``status`` is ``trained``, ``rescored`` (a queued re-score job ran), ``failed``
    or ``skipped`` (with the reason)."""
    threshold = settings.retrain_min_new_labels if min_new_labels is None else min_new_labels
    factory = session_factory(settings.database_url)
    with factory() as session:
        job = registry.claim_next_job(session)  # a queued train or re-score job first
        if job is None:
            since = registry.last_trained_at(session)
            new_labels = count_labelled_since(settings.database_url, since)
            if new_labels < threshold:
                return {
                    "status": "skipped",
                    "reason": f"{new_labels} new labels since the last training, fewer than {threshold} "
                    "(THREEKCAL_RETRAIN_MIN_NEW_LABELS)",
                    "new_labels": new_labels,
                }
            queued = registry.queue_job(
                session, kind="train", params={"new_labels": new_labels}, author=AIRFLOW_AUTHOR
            )
            job_id = queued.id
        else:
            job_id = job.id
    summary = run_job(settings, job_id)
    if summary["state"] != "succeeded":
        return {"status": "failed", **summary}
    if "version_id" not in summary:  # a re-score job
        return {"status": "rescored", **summary}
    promoted = auto_promote and summary.get("verdict") == "better"
    if promoted:
        with factory() as session:
            registry.promote(session, summary["version_id"], author=f"{AIRFLOW_AUTHOR} (auto_promote)")
    return {"status": "trained", "promoted": promoted, **summary}
