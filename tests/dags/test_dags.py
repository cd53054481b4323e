"""The Airflow DAGs: they import cleanly, and ``dag.test()`` of predict_emotion then save_db turns
inserted comments into applied predictions (tiny test model, Spark apply, SQLite metadata database).

Airflow reads its configuration at import, so everything runs in a fresh interpreter
(``airflow_harness.py``) with AIRFLOW_HOME, the DAG folder and a temporary metadata database set first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select
from tests.conftest import ADMIN_TOKEN

from threekcal.db import migrate
from threekcal.db.models import Comment, PredictionBatch
from threekcal.db.session import engine_for

pytestmark = [pytest.mark.airflow, pytest.mark.spark, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
HARNESS = Path(__file__).with_name("airflow_harness.py")


@pytest.fixture(scope="module")
def airflow_run(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> dict[str, Any]:
    """One fresh Airflow home; three comments inserted; the harness's report and the database."""
    home = tmp_path_factory.mktemp("airflow")
    database_url = f"sqlite:///{home / 'threekcal.db'}"
    migrate.upgrade(database_url)
    with engine_for(database_url).begin() as connection:
        for number, text in enumerate(["what a happy day", "this is sad", "wow, really?"], start=1):
            connection.execute(
                insert(Comment).values(
                    comments=text,
                    request_user="airflow-test",
                    request_time=_now(),
                    receipt=f"receipt-{number}",
                )
            )
    env = {key: value for key, value in os.environ.items() if not key.startswith(("THREEKCAL_", "AIRFLOW"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__UNIT_TEST_MODE="True",
        THREEKCAL_ENV="test",
        THREEKCAL_ADMIN_TOKEN=ADMIN_TOKEN,
        THREEKCAL_DATABASE_URL=database_url,
        THREEKCAL_LOG_DIR=str(home / "logs"),
        THREEKCAL_CACHE_DIR=str(home / "cache"),
        THREEKCAL_MODEL=str(tiny_model_dir),
        THREEKCAL_TORCH_THREADS="1",
        HF_HUB_OFFLINE="1",
    )
    completed = subprocess.run(
        [sys.executable, str(HARNESS)], env=env, cwd=home, capture_output=True, text=True, timeout=540
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("HARNESS ")]
    assert completed.returncode == 0 and lines, completed.stdout[-4000:] + completed.stderr[-8000:]
    return {"report": json.loads(lines[-1].removeprefix("HARNESS ")), "database_url": database_url}


def _now():  # type: ignore[no-untyped-def]
    from threekcal.db.types import utcnow

    return utcnow()


def test_the_dag_folder_imports_without_errors(airflow_run: dict[str, Any]) -> None:
    report = airflow_run["report"]
    assert report["import_errors"] == {}
    assert set(report["dags"]) == {"predict_emotion", "save_db", "retrain_emotion"}


def test_predict_emotion_is_scheduled_once_at_a_time_and_produces_the_log_asset(
    airflow_run: dict[str, Any],
) -> None:
    dag = airflow_run["report"]["dags"]["predict_emotion"]
    assert dag["schedule"] == "*/3 * * * *"
    assert (dag["catchup"], dag["max_active_runs"]) == (False, 1)
    assert dag["retries"] >= 1
    assert dag["outlets"] == ["threekcal_prediction_log"]


def test_save_db_runs_on_the_log_asset(airflow_run: dict[str, Any]) -> None:
    dag = airflow_run["report"]["dags"]["save_db"]
    assert (
        dag["asset_schedule"] == ["threekcal_prediction_log"] or "threekcal_prediction_log" in dag["schedule"]
    )
    assert (dag["catchup"], dag["max_active_runs"]) == (False, 1)


def test_dag_test_runs_predict_then_save_db_end_to_end(airflow_run: dict[str, Any]) -> None:
    report = airflow_run["report"]
    assert report["predict_emotion"]["state"] == "success", report
    assert report["save_db"]["state"] == "success", report
    with engine_for(airflow_run["database_url"]).connect() as connection:
        predictions = connection.execute(select(Comment.prediction_result, Comment.model_version)).all()
        batches = connection.execute(
            select(PredictionBatch.run_id, PredictionBatch.engine, PredictionBatch.details)
        ).all()
    assert len(predictions) == 3
    assert all(label and version.startswith("tiny@") for label, version in predictions)
    # The log carries Airflow's run id, and the Spark engine applied it (SQLite: the driver inserts).
    assert [(run_id.startswith("manual__"), engine) for run_id, engine, _ in batches] == [(True, "spark")]
    assert [details["staging_write"] for _, _, details in batches] == ["driver-inserts"]
