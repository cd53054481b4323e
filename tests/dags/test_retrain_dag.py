"""The retrain_emotion DAG with ``dag.test()``: it trains the tiny model on a labelled corpus, evaluates
and registers the candidate, auto-promotes it on a "better" verdict, and skips when no new labels came."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.conftest import ADMIN_TOKEN
from tests.training.labelled_corpus import TINY_TRAINING, add_labelled, labelled_corpus

from threekcal.db import migrate
from threekcal.db.models import ModelVersion, RegistryEvent
from threekcal.db.session import engine_for

pytest.importorskip("airflow")
pytestmark = [pytest.mark.airflow, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
HARNESS = Path(__file__).with_name("retrain_harness.py")


def test_retrain_dag_trains_registers_auto_promotes_then_skips_without_new_labels(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    database_url = f"sqlite:///{tmp_path / 'threekcal.db'}"
    migrate.upgrade(database_url)
    add_labelled(database_url, labelled_corpus(1250))
    env = {key: value for key, value in os.environ.items() if not key.startswith(("THREEKCAL_", "AIRFLOW"))}
    env.update(
        {f"THREEKCAL_{key.upper()}": str(value) for key, value in TINY_TRAINING.items()},
        AIRFLOW_HOME=str(tmp_path),
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{tmp_path / 'airflow.db'}",
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__UNIT_TEST_MODE="True",
        THREEKCAL_ENV="test",
        THREEKCAL_ADMIN_TOKEN=ADMIN_TOKEN,
        THREEKCAL_DATABASE_URL=database_url,
        THREEKCAL_MODEL=str(tiny_model_dir),
        THREEKCAL_MODEL_DIR=str(tmp_path / "models"),
        THREEKCAL_LOG_DIR=str(tmp_path / "logs"),
        HF_HUB_OFFLINE="1",
    )
    completed = subprocess.run(
        [sys.executable, str(HARNESS)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=540
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("HARNESS ")]
    assert completed.returncode == 0 and lines, completed.stdout[-4000:] + completed.stderr[-8000:]
    report = json.loads(lines[-1].removeprefix("HARNESS "))

    assert report["import_errors"] == {}
    assert (report["schedule"], report["catchup"], report["max_active_runs"]) == ("@weekly", False, 1)
    assert report["params"]["auto_promote"] is False
    first, second = report["runs"]
    assert first["tasks"] == {"train_evaluate_register": "success"}, report
    assert second["tasks"] == {"train_evaluate_register": "skipped"}, report
    with engine_for(database_url).connect() as connection:
        versions = connection.execute(
            select(ModelVersion.id, ModelVersion.status, ModelVersion.created_by).order_by(ModelVersion.id)
        ).all()
        audit = connection.execute(
            select(RegistryEvent.action, RegistryEvent.author).order_by(RegistryEvent.id)
        ).all()
    assert [(status, by) for _, status, by in versions] == [("retired", "system"), ("active", "airflow")]
    assert ("promote", "airflow (auto_promote)") in [tuple(row) for row in audit]
