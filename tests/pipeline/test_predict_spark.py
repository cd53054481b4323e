"""Inference on Spark: the executors score, the driver writes the same log the local engine writes."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from pipeline_helpers import add_comments, batch_rows, comment_rows

from threekcal.model import load_classifier
from threekcal.pipeline import logfiles
from threekcal.pipeline.apply import apply_logs
from threekcal.pipeline.backfill import run_backfill
from threekcal.pipeline.predict import predict_pending
from threekcal.pipeline.spark_predict import package_archive, spark_classifier
from threekcal.settings import Settings

pytestmark = [pytest.mark.spark, pytest.mark.slow]

TEXTS = [
    f"comment {i}: {word}" for i, word in enumerate(["happy days", "so sad", "wow!", "meh", "gross"] * 5)
]


@pytest.fixture
def model_settings(settings: Settings, tiny_model_dir: Path) -> Settings:
    return settings.model_copy(
        update={"model": str(tiny_model_dir), "backend": "onnx-fp32", "torch_threads": 1}
    )


def log_records(settings: Settings, run_id: str) -> list[dict[str, Any]]:
    batch = batch_rows(settings.database_url)[run_id]
    path = logfiles.resolve(settings.log_dir, batch["log_path"])
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_spark_predict_writes_the_local_engines_log(model_settings: Settings, spark: Any) -> None:
    nums = add_comments(model_settings.database_url, TEXTS)
    classifier = spark_classifier(model_settings, spark=spark)
    local = load_classifier(settings=model_settings)
    assert classifier.model_version == local.model_version

    result = predict_pending(model_settings, classifier, run_id="run-spark", chunk_size=7)
    assert (result.status, result.records) == ("written", len(TEXTS))
    records = log_records(model_settings, "run-spark")
    assert [record["num"] for record in records] == nums
    expected = local.predict(TEXTS)
    for record, prediction in zip(records, expected, strict=True):
        assert record["prediction_result"] == prediction.label
        assert record["prediction_score"] == pytest.approx(prediction.score, abs=1e-6)
        assert record["model_version"] == local.model_version

    # A re-run of the same run id writes nothing; apply brings every prediction in exactly once.
    assert predict_pending(model_settings, classifier, run_id="run-spark").status == "already-done"
    report = apply_logs(model_settings, engine="spark", spark=spark)
    assert report.applied_rows == len(TEXTS)
    assert all(row["prediction_result"] for row in comment_rows(model_settings.database_url).values())


def test_spark_backfill_rescores_on_the_executors(model_settings: Settings, spark: Any) -> None:
    add_comments(model_settings.database_url, TEXTS[:6])
    classifier = spark_classifier(model_settings, spark=spark)
    result, report = run_backfill(model_settings, classifier, engine="spark", chunk_size=4)
    assert (result.status, result.records) == ("written", 6)
    assert report is not None and report.applied_rows == 6
    rows = comment_rows(model_settings.database_url)
    assert {row["model_version"] for row in rows.values()} == {classifier.model_version}


def test_spark_predict_without_a_model_uses_the_registrys_active_version(
    model_settings: Settings, spark: Any, tmp_path: Path
) -> None:
    from threekcal.db import registry
    from threekcal.db.session import session_factory
    from threekcal.model.testmodel import build_test_model

    promoted_dir = build_test_model(tmp_path / "tiny-seed1", size="tiny", seed=1)
    with session_factory(model_settings.database_url)() as session:
        first = registry.ensure_initial_version(session, model_settings.model)
        second = registry.register_candidate(
            session,
            source=str(promoted_dir),
            tag=None,
            parent_id=first.version_id,
            created_by="tester",
            training_data_hash="0" * 64,
            training_data_size=0,
            metrics={},
        )
        registry.promote(session, second.id, author="alice")
    add_comments(model_settings.database_url, TEXTS[:6])
    classifier = spark_classifier(model_settings, spark=spark)  # THREEKCAL_MODEL is the first version
    promoted = load_classifier(str(promoted_dir), settings=model_settings)
    assert classifier.model_version == promoted.model_version
    result = predict_pending(model_settings, classifier, run_id="run-active")
    assert (result.status, result.records) == ("written", 6)
    records = log_records(model_settings, "run-active")
    assert {record["model_version"] for record in records} == {promoted.model_version}
    expected = promoted.predict(TEXTS[:6])
    assert [record["prediction_result"] for record in records] == [p.label for p in expected]


def test_the_package_travels_as_one_archive_named_by_its_content(tmp_path: Path) -> None:
    archive = package_archive(tmp_path)
    assert package_archive(tmp_path) == archive  # built once per content
    names = zipfile.ZipFile(archive).namelist()
    assert "threekcal/pipeline/spark_predict.py" in names
    assert "threekcal/model/_backend.py" in names
    assert not any("__pycache__" in name for name in names)
