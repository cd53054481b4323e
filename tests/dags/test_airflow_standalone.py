"""The real scheduler: ``airflow standalone`` with this repository's dags folder runs predict_emotion
on its schedule, save_db on the Asset it produces, and every comment (in MariaDB) ends up predicted.

Airflow's own metadata database is SQLite (standalone's default); the application database is MariaDB.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.conftest import ADMIN_TOKEN

from threekcal.db import migrate
from threekcal.db.models import Comment, PredictionBatch
from threekcal.db.session import engine_for

pytest.importorskip("airflow")
pytestmark = [pytest.mark.airflow, pytest.mark.spark, pytest.mark.mariadb, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
TEXTS = ["what a happy day", "this is sad", "wow, really?", "I am so angry", "meh", "gross food"]
DEADLINE = 1000.0  # a shared 2-core machine: Airflow's four processes, a model and Spark per task


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def app_database(mariadb_server_url: str) -> str:
    migrate.upgrade(mariadb_server_url)
    engine = engine_for(mariadb_server_url)
    with engine.begin() as connection:
        connection.execute(PredictionBatch.__table__.delete())
        connection.execute(Comment.__table__.delete())
    return mariadb_server_url


@pytest.fixture
def airflow_env(tmp_path: Path, tiny_model_dir: Path, app_database: str) -> dict[str, str]:
    home = tmp_path / "airflow"
    home.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("THREEKCAL_", "AIRFLOW"))}
    port = free_port()
    env.update(
        PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(port),
        # Task processes report to the API server: on its port, not the default 8080.
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
        AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL="5",
        THREEKCAL_ENV="test",
        THREEKCAL_ADMIN_TOKEN=ADMIN_TOKEN,
        THREEKCAL_DATABASE_URL=app_database,
        THREEKCAL_LOG_DIR=str(tmp_path / "logs"),
        THREEKCAL_CACHE_DIR=str(tmp_path / "cache"),
        THREEKCAL_MODEL=str(tiny_model_dir),
        THREEKCAL_BACKEND="torch",
        THREEKCAL_TORCH_THREADS="1",
        THREEKCAL_SPARK_MASTER="local[1]",
        HF_HUB_OFFLINE="1",
    )
    return env


@pytest.fixture
def standalone(airflow_env: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    log = open(tmp_path / "standalone.log", "wb")  # noqa: SIM115 - closed after the process
    process = subprocess.Popen(
        [shutil.which("airflow", path=airflow_env["PATH"]) or "airflow", "standalone"],
        env=airflow_env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its scheduler, dag-processor, triggerer and api-server: one group
    )
    try:
        yield process
    finally:
        for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
            if process.poll() is None:
                os.killpg(process.pid, sig)
                try:
                    process.wait(wait)
                except subprocess.TimeoutExpired:
                    continue
        log.close()


def _airflow(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["airflow", *args], env=env, capture_output=True, text=True, timeout=120)


def _healthy(env: dict[str, str]) -> bool:
    url = f"http://127.0.0.1:{env['AIRFLOW__API__PORT']}/api/v2/monitor/health"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.load(response)["scheduler"]["status"] == "healthy"
    except (OSError, ValueError, KeyError):
        return False


def _log_tail(tmp_path: Path) -> str:
    return (tmp_path / "standalone.log").read_text(errors="replace")[-6000:]


@pytest.mark.timeout(1300)
def test_airflow_standalone_runs_both_dags_by_the_asset_until_every_comment_is_predicted(
    standalone: subprocess.Popen[bytes], airflow_env: dict[str, str], app_database: str, tmp_path: Path
) -> None:
    sys.path.insert(0, str(REPO / "tests" / "pipeline"))
    from pipeline_helpers import add_comments

    nums = add_comments(app_database, TEXTS, user="airflow-e2e")
    deadline = time.monotonic() + DEADLINE
    while not _healthy(airflow_env):
        assert standalone.poll() is None, _log_tail(tmp_path)
        assert time.monotonic() < deadline, "airflow standalone never became healthy\n" + _log_tail(tmp_path)
        time.sleep(2)
    # The DAG processor must have parsed both files before they can be unpaused.
    pending = ["save_db", "predict_emotion"]  # the consumer first, so it sees the first Asset event
    while pending:
        if _airflow(airflow_env, "dags", "unpause", pending[0]).returncode == 0:
            pending.pop(0)
            continue
        assert time.monotonic() < deadline, "the DAGs were never parsed\n" + _log_tail(tmp_path)
        time.sleep(3)

    engine = engine_for(app_database)
    while True:
        with engine.connect() as connection:
            predicted = connection.execute(
                select(Comment.num).where(Comment.prediction_result.is_not(None))
            ).scalars()
            batches = connection.execute(select(PredictionBatch.engine, PredictionBatch.details)).all()
        if sorted(predicted) == nums:
            break
        assert time.monotonic() < deadline, f"not every comment was predicted in time\n{_log_tail(tmp_path)}"
        time.sleep(5)

    # Applied by save_db (the Spark engine) from a log predict_emotion wrote in an Airflow run.
    assert batches and all(engine == "spark" for engine, _ in batches)
    assert all(details["airflow_run_id"].startswith("scheduled__") for _, details in batches)
    listed = _airflow(airflow_env, "dags", "list-runs", "save_db", "-o", "json").stdout
    start = min(position for position in (listed.find("[{"), listed.find("[]")) if position >= 0)
    runs, _ = json.JSONDecoder().raw_decode(listed[start:])  # after any log lines
    assert any(run["run_id"].startswith("asset_triggered__") for run in runs), listed
