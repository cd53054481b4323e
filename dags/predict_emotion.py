"""predict_emotion: predict pending ThreeKcal comments into a prediction log.

Every THREEKCAL_PREDICT_SCHEDULE (default every 3 minutes), no catchup, one run at a time. The task
produces the ``threekcal_prediction_log`` Asset, which triggers ``save_db``.
"""

from datetime import UTC, datetime, timedelta

from airflow.sdk import dag, task

from threekcal.pipeline.airflow_tasks import DEFAULT_ARGS, PREDICTION_LOG, predict_schedule, run_predict


@dag(
    dag_id="predict_emotion",
    schedule=predict_schedule(),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    dagrun_timeout=timedelta(hours=1),
    tags=["threekcal"],
    doc_md=__doc__,
)
def predict_emotion() -> None:
    @task(outlets=[PREDICTION_LOG], execution_timeout=timedelta(minutes=50))
    def predict(**context):  # type: ignore[no-untyped-def]
        return run_predict(context["run_id"], context["outlet_events"])

    predict()


predict_emotion()
