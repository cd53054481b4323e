"""What the Airflow DAGs in ``dags/`` call: the prediction-log Asset and the two task bodies.

Only DAG files import this module (it needs Apache Airflow). The DAG files stay thin; everything
they do is here, next to the code it calls, and is idempotent per Airflow run id: a retried or
cleared ``predict`` task with the same run id finds its log already written and writes nothing new.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import Asset
from airflow.sdk.exceptions import AirflowSkipException

from threekcal.settings import get_settings

LOCK_WAIT_SECONDS = 120.0  # a task waits this long for a run holding the same lock, then retries

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "threekcal",
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
}


def _log_dir_uri() -> str:
    return get_settings().log_dir.resolve().as_uri()


# The prediction logs under THREEKCAL_LOG_DIR. ``predict_emotion`` produces it, ``save_db`` consumes it.
PREDICTION_LOG = Asset(name="threekcal_prediction_log", uri=_log_dir_uri(), group="threekcal")


def predict_schedule() -> str:
    return get_settings().predict_schedule


def default_spark_master() -> str:
    """save_db's ``spark_master`` Param default: THREEKCAL_SPARK_MASTER."""
    return get_settings().spark_master


def run_predict(run_id: str, outlet_events: Any) -> dict[str, Any]:
    """Predict pending comments into the log of this Airflow run.

    An idle run counts the pending comments first and skips without loading the model (seconds).
    A run that writes no log is skipped: no Asset event, so no ``save_db`` run. A log a failed
    ``save_db`` left behind is applied by the next ``save_db`` run (or ``threekcal apply``).
    """
    from threekcal.pipeline.active_model import ActiveClassifier
    from threekcal.pipeline.batches import count_pending
    from threekcal.pipeline.predict import predict_pending
    from threekcal.pipeline.runids import run_id_for

    settings = get_settings()
    if count_pending(settings.database_url) == 0:
        raise AirflowSkipException("no pending comments: the model was not loaded, nothing written")
    classifier = ActiveClassifier(settings).current()  # the registry's active version (THREEKCAL_BACKEND)
    result = predict_pending(
        settings,
        classifier,
        run_id=run_id_for(run_id),
        lock_timeout=LOCK_WAIT_SECONDS,
        details={"airflow_run_id": run_id},
    )
    if result.status == "busy":
        raise RuntimeError(result.summary())  # retried by Airflow
    summary = {
        "run_id": result.run_id,
        "airflow_run_id": run_id,
        "status": result.status,
        "records": result.records,
        "log_path": result.log_path,
        "model_version": result.model_version,
        "predict_seconds": result.seconds,
    }
    if result.status != "written":
        raise AirflowSkipException(result.summary())
    outlet_events[PREDICTION_LOG].extra = summary
    return summary


def run_save_db(master: str | None) -> dict[str, Any]:
    """Apply every waiting prediction log with the Spark engine."""
    from threekcal.pipeline.apply import apply_logs

    # Spark starts only when a log waits (apply_logs returns before that otherwise).
    report = apply_logs(get_settings(), engine="spark", master=master or None, lock_timeout=LOCK_WAIT_SECONDS)
    if report.busy:
        raise RuntimeError(report.summary())  # retried by Airflow
    return {
        "summary": report.summary(),
        "applied": [batch.run_id for batch in report.batches],
        "applied_rows": report.applied_rows,
        "waiting": report.waiting,
    }


def retrain_schedule() -> str | None:
    return get_settings().retrain_schedule or None


def run_retrain_task(auto_promote: bool) -> dict[str, Any]:
    """Train, evaluate and register a candidate when enough labels arrived; skipped otherwise."""
    from threekcal.pipeline.retrain import run_retrain

    summary = run_retrain(get_settings(), auto_promote=bool(auto_promote))
    if summary["status"] == "skipped":
        raise AirflowSkipException(summary["reason"])
    if summary["status"] == "failed":
        raise RuntimeError(f"training failed: {summary.get('error') or summary}")
    return summary
