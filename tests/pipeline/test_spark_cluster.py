"""On a real Spark standalone cluster (a master and two workers from the pip package), with executors
whose Python does not have ThreeKcal: the Spark predict scores on the executors and the Spark apply
applies, through the real command line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pipeline_helpers import add_comments, batch_rows, comment_rows
from spark_cluster import SparkCluster, clean_environment, spark_cluster
from tests.conftest import ADMIN_TOKEN

from threekcal.settings import Settings

pytestmark = [pytest.mark.spark, pytest.mark.slow]
__all__ = ["spark_cluster"]  # the session fixture, used by name

TEXTS = [f"cluster comment {i}: {word}" for i, word in enumerate(["happy", "sad", "wow", "meh"] * 6)]


def test_the_executors_python_cannot_import_threekcal_but_has_its_dependencies(
    spark_cluster: SparkCluster,
) -> None:
    probe = (
        "import importlib.util, sys\n"
        "import numpy, pandas, pyarrow, onnxruntime, tokenizers\n"
        "sys.exit(3 if importlib.util.find_spec('threekcal') else 0)\n"
    )
    completed = subprocess.run(
        [str(spark_cluster.executor_python), "-c", probe], env=clean_environment(), capture_output=True
    )
    assert completed.returncode == 0, completed.stderr


@pytest.mark.timeout(1800)  # a shared 2-core machine: two Spark applications and four JVMs
def test_spark_predict_and_apply_run_on_the_cluster(
    settings: Settings, tiny_model_dir: Path, spark_cluster: SparkCluster, tmp_path: Path
) -> None:
    nums = add_comments(settings.database_url, TEXTS)
    env = {key: value for key, value in os.environ.items() if not key.startswith("THREEKCAL_")} | {
        "THREEKCAL_ENV": "test",
        "THREEKCAL_ADMIN_TOKEN": ADMIN_TOKEN,
        "THREEKCAL_DATABASE_URL": settings.database_url,
        "THREEKCAL_LOG_DIR": str(settings.log_dir),
        "THREEKCAL_CACHE_DIR": str(settings.cache_dir),
        "THREEKCAL_MODEL": str(tiny_model_dir),
        "THREEKCAL_BACKEND": "onnx-fp32",
        "THREEKCAL_SPARK_MASTER": spark_cluster.master_url,
        "PYSPARK_PYTHON": str(spark_cluster.executor_python),
        "HF_HUB_OFFLINE": "1",
    }
    apps_before = {app["id"] for app in spark_cluster.status()["completedapps"]}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            [sys.executable, "-m", "threekcal.cli", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert completed.returncode == 0, completed.stdout + completed.stderr
        return completed

    predicted = run("predict", "--engine", "spark", "--run-id", "cluster-run", "--chunk-size", "10")
    assert f"cluster-run: {len(TEXTS)} predictions" in predicted.stdout
    assert "Traceback" not in predicted.stderr
    # Spark's start-up lines are not on stderr (where Airflow files them as errors).
    assert "log4j" not in predicted.stderr and "NativeCodeLoader" not in predicted.stderr, predicted.stderr
    run("apply", "--engine", "spark")

    rows = comment_rows(settings.database_url)
    assert sorted(rows) == nums
    assert all(
        row["prediction_result"] and row["model_version"].endswith("+onnx-fp32") for row in rows.values()
    )
    batch = batch_rows(settings.database_url)["cluster-run"]
    assert (batch["engine"], batch["applied_rows"], batch["details"]["engine"]) == (
        "spark",
        len(TEXTS),
        "spark",
    )
    # Both runs were applications of this cluster (not local mode) that got executor cores and finished.
    new_apps = [app for app in spark_cluster.status()["completedapps"] if app["id"] not in apps_before]
    assert len(new_apps) == 2, new_apps
    assert all(app["state"] == "FINISHED" and app["cores"] >= 1 for app in new_apps), new_apps
