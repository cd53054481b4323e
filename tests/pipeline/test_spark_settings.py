"""Spark settings: the master's addresses, loopback only for local work, an unreachable master in seconds."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from threekcal.pipeline.sparksession import (
    SparkUnavailable,
    check_master_reachable,
    driver_environment,
    master_addresses,
)
from threekcal.settings import Settings


def closed_port() -> int:
    """A port nothing listens on: bound by the OS, then released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_master_addresses_cover_standalone_ha_and_kubernetes() -> None:
    assert master_addresses("spark://a:7078") == [("a", 7078)]
    assert master_addresses("spark://a,b:7079") == [("a", 7077), ("b", 7079)]
    assert master_addresses("k8s://https://api.example:6443") == [("api.example", 6443)]
    assert master_addresses("local[2]") == []


def test_loopback_is_forced_only_when_everything_runs_on_this_host() -> None:
    assert driver_environment("local[2]")["SPARK_LOCAL_IP"] == "127.0.0.1"
    assert driver_environment("spark://127.0.0.1:7077") == {"SPARK_LOCAL_IP": "127.0.0.1"}
    assert driver_environment("spark://spark-master.internal:7077") == {}
    assert driver_environment("spark://10.0.0.5:7077") == {}


def test_default_master_comes_from_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREEKCAL_SPARK_MASTER", "spark://spark-master:7077")
    monkeypatch.setenv("THREEKCAL_SPARK_DRIVER_HOST", "10.0.0.9")
    settings = Settings(_env_file=None)
    assert (settings.spark_master, settings.spark_driver_host) == ("spark://spark-master:7077", "10.0.0.9")
    assert Settings(_env_file=None, spark_master="local[3]").spark_master == "local[3]"


def test_an_unreachable_master_is_reported_in_one_line() -> None:
    master = f"spark://127.0.0.1:{closed_port()}"
    with pytest.raises(SparkUnavailable, match=r"Spark master spark://127\.0\.0\.1:\d+ is unreachable"):
        check_master_reachable(master, timeout=2)
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        check_master_reachable(f"spark://127.0.0.1:{listening.getsockname()[1]}", timeout=2)


@pytest.mark.slow
def test_cli_apply_against_an_unreachable_master_fails_fast_without_a_traceback(
    settings: Settings, tmp_path: Path
) -> None:
    from pipeline_helpers import add_log, record

    add_log(settings.database_url, settings.log_dir, "run-x", [record(1, "run-x")])
    env = {
        "THREEKCAL_ENV": "test",
        "THREEKCAL_ADMIN_TOKEN": "test-admin-token-0123456789",
        "THREEKCAL_DATABASE_URL": settings.database_url,
        "THREEKCAL_LOG_DIR": str(settings.log_dir),
    }
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-m", "threekcal.cli", "apply", "--engine", "spark"],
        env=os.environ | env | {"THREEKCAL_SPARK_MASTER": f"spark://127.0.0.1:{closed_port()}"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert time.monotonic() - started < 30
    assert completed.returncode == 1
    error_lines = [line for line in completed.stderr.splitlines() if line.strip()]
    assert len(error_lines) == 1 and "is unreachable" in error_lines[0], completed.stderr
    assert "Traceback" not in completed.stderr
