"""save_db: apply the waiting ThreeKcal prediction logs to the database with Spark.

Runs whenever ``predict_emotion`` updates the ``threekcal_prediction_log`` Asset; one run at a time.
Param ``spark_master`` (default THREEKCAL_SPARK_MASTER) points the job at a cluster.
"""

from datetime import UTC, datetime, timedelta

from airflow.sdk import Param, dag, task

from threekcal.pipeline.airflow_tasks import DEFAULT_ARGS, PREDICTION_LOG, default_spark_master, run_save_db


@dag(
    dag_id="save_db",
    schedule=[PREDICTION_LOG],
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    dagrun_timeout=timedelta(hours=1),
    params={"spark_master": Param(default_spark_master(), type="string", description="Spark master URL")},
    tags=["threekcal"],
    doc_md=__doc__,
)
def save_db() -> None:
    @task(execution_timeout=timedelta(minutes=50))
    def apply_logs(**context):  # type: ignore[no-untyped-def]
        return run_save_db(context["params"]["spark_master"])

    apply_logs()


save_db()
