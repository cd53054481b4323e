"""retrain_emotion: fine-tune the emotion model on the new labels, evaluate it, register the candidate.

Weekly (THREEKCAL_RETRAIN_SCHEDULE; empty: manual only), no catchup, one run at a time. A queued job
(``POST /models/train`` or ``/models/rescore``) runs first; otherwise it trains only when at least
THREEKCAL_RETRAIN_MIN_NEW_LABELS labels arrived since the last training, and is skipped otherwise.
Promotion stays a person's decision unless the Param ``auto_promote`` is true and the verdict is "better".
"""

from datetime import UTC, datetime, timedelta

from airflow.sdk import Param, dag, task

from threekcal.pipeline.airflow_tasks import DEFAULT_ARGS, retrain_schedule, run_retrain_task


@dag(
    dag_id="retrain_emotion",
    schedule=retrain_schedule(),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS | {"retries": 0},  # a failed training is reported, not repeated blindly
    dagrun_timeout=timedelta(hours=6),
    params={
        "auto_promote": Param(
            False, type="boolean", description='Promote the candidate if its verdict is "better"'
        )
    },
    tags=["threekcal"],
    doc_md=__doc__,
)
def retrain_emotion() -> None:
    @task(execution_timeout=timedelta(hours=5))
    def train_evaluate_register(**context):  # type: ignore[no-untyped-def]
        return run_retrain_task(context["params"]["auto_promote"])

    train_evaluate_register()


retrain_emotion()
