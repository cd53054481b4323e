"""README: when the model cannot load, `make run` (`threekcal up`) keeps the API and the web app serving
and says the worker stopped; comments wait until a model is available.

The real `threekcal up`, with THREEKCAL_MODEL a hub id that is not cached and HF_HUB_OFFLINE=1.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest
from e2e_stack import start_stack

from waiting import wait_until

MISSING_MODEL = "threekcal-tests/no-such-model"

pytestmark = pytest.mark.slow


def test_up_keeps_api_and_web_app_serving_when_the_model_cannot_load(tmp_path: Path) -> None:
    stack = start_stack(tmp_path, model_dir=MISSING_MODEL)
    try:
        # The worker fails to load the model and stops, with a message naming the setting ...
        wait_until(lambda: "worker exited with status" in stack.log(), what="the worker stops")
        log = stack.log()
        assert MISSING_MODEL in log and "THREEKCAL_MODEL" in log
        assert "the others keep running" in log
        # EX_CONFIG: a restart cannot fix a model that is not there, so `up` does not try
        assert "worker exited with status 78" in log and "restarting it" not in log
        # ... and the others serve on: both health checks answer, and a comment can be posted.
        assert stack.process.poll() is None, log
        health = httpx.get(f"{stack.api_url}/health", timeout=10)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert httpx.get(f"{stack.ui_url}/_stcore/health", timeout=10).text == "ok"
        comment = {"request_user": "minji", "comments": "anyone there?"}
        posted = httpx.post(f"{stack.api_url}/comments", json=comment, timeout=10)
        assert posted.status_code == 201, posted.text
        waiting = httpx.get(f"{stack.api_url}/comments/by-receipt/{posted.json()['receipt']}", timeout=10)
        assert waiting.status_code == 200 and waiting.json()["prediction_result"] is None  # it waits
        assert httpx.get(f"{stack.ui_url}/", timeout=10).status_code == 200
    finally:
        try:
            stack.stop()
        except subprocess.TimeoutExpired:
            stack.process.kill()
