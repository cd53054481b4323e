"""The predict task body: an idle run skips before loading the model; only a written log emits an event.

Runs in a fresh interpreter with its own AIRFLOW_HOME (Airflow reads its configuration when imported).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import ADMIN_TOKEN

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pipeline"))

from threekcal.settings import Settings

pytest.importorskip("airflow")
pytestmark = [pytest.mark.airflow, pytest.mark.slow]

SCRIPT = """
import json, sys, types
from collections import defaultdict
from airflow.sdk.exceptions import AirflowSkipException
from threekcal.pipeline.airflow_tasks import PREDICTION_LOG, run_predict

events = defaultdict(types.SimpleNamespace)
try:
    summary = run_predict(sys.argv[1], events)
    event = hasattr(events[PREDICTION_LOG], "extra")
    print("RESULT " + json.dumps({"status": summary["status"], "event": event}))
except AirflowSkipException as exc:
    print("RESULT " + json.dumps({"skipped": str(exc), "event": bool(events)}))
"""


def run_task(settings: Settings, model: str, tmp_path: Path, run_id: str) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("THREEKCAL_", "AIRFLOW"))}
    env |= {
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "THREEKCAL_ENV": "test",
        "THREEKCAL_ADMIN_TOKEN": ADMIN_TOKEN,
        "THREEKCAL_DATABASE_URL": settings.database_url,
        "THREEKCAL_LOG_DIR": str(settings.log_dir),
        "THREEKCAL_CACHE_DIR": str(settings.cache_dir),
        "THREEKCAL_MODEL": model,
        "THREEKCAL_BACKEND": "torch",
        "THREEKCAL_TORCH_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
    }
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT, run_id], env=env, capture_output=True, text=True, timeout=180
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    assert completed.returncode == 0 and lines, completed.stdout + completed.stderr[-4000:]
    return json.loads(lines[-1].removeprefix("RESULT "))


def test_idle_predict_skips_without_loading_the_model_and_a_written_log_emits_the_event(
    settings: Settings, tiny_model_dir: Path, tmp_path: Path
) -> None:
    from pipeline_helpers import add_comments  # type: ignore[import-not-found]

    # A model that cannot load: had the idle run loaded it, the task would fail instead of skipping.
    idle = run_task(settings, str(tmp_path / "no-such-model"), tmp_path, "manual__idle")
    assert idle == {
        "skipped": "no pending comments: the model was not loaded, nothing written",
        "event": False,
    }

    add_comments(settings.database_url, ["so happy", "so sad"])
    written = run_task(settings, str(tiny_model_dir), tmp_path, "manual__busy")
    assert written == {"status": "written", "event": True}
