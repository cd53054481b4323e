"""Pipeline status (``GET /pipeline``, ``threekcal status``) and the backfill with another model."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from pipeline_helpers import KeywordClassifier, add_comments, comment_rows
from sqlalchemy import update

from threekcal.db.models import Comment
from threekcal.db.session import engine_for
from threekcal.pipeline.apply import apply_logs
from threekcal.pipeline.backfill import BackfillFilter, run_backfill
from threekcal.pipeline.predict import predict_pending
from threekcal.pipeline.status import pipeline_status
from threekcal.settings import Settings


def test_status_follows_the_pipeline(settings: Settings, classifier: KeywordClassifier) -> None:
    assert pipeline_status(settings) == {
        "pending": 0,
        "last_predict": None,
        "last_apply": None,
        "unapplied_logs": 0,
        "quarantined_lines": 0,
    }
    add_comments(settings.database_url, ["happy", "sad", "wow"])
    assert pipeline_status(settings)["pending"] == 3

    result = predict_pending(settings, classifier, run_id="run-a")
    # A damaged line, as a disk problem could leave it, shows up as quarantined after the apply.
    path = settings.log_dir / result.log_path
    path.write_text(path.read_text() + "garbage\n")
    state = pipeline_status(settings)
    assert (state["pending"], state["unapplied_logs"], state["last_apply"]) == (0, 1, None)
    assert state["last_predict"]["run_id"] == "run-a" and state["last_predict"]["records"] == 3
    assert state["last_predict"]["predict_seconds"] >= 0
    datetime.fromisoformat(state["last_predict"]["created_at"])

    apply_logs(settings)
    state = pipeline_status(settings)
    assert (state["pending"], state["unapplied_logs"], state["quarantined_lines"]) == (0, 0, 1)
    assert state["last_apply"]["run_id"] == "run-a"
    assert (state["last_apply"]["applied_rows"], state["last_apply"]["engine"]) == (3, "local")
    json.dumps(state)  # JSON-ready as it is


def test_backfill_rescores_through_the_log_and_keeps_labels(
    settings: Settings, classifier: KeywordClassifier
) -> None:
    alice = add_comments(settings.database_url, ["happy", "sad"], user="alice")
    bob = add_comments(settings.database_url, ["wow"], user="bob")
    predict_pending(settings, classifier, run_id="run-a")
    apply_logs(settings)
    with engine_for(settings.database_url).begin() as connection:
        connection.execute(update(Comment).where(Comment.num == alice[0]).values(label="joy", remark="ok"))

    result, report = run_backfill(
        settings, KeywordClassifier("test-keywords@2"), BackfillFilter(request_user="alice"), run_id="bf-1"
    )
    assert (result.status, result.kind, result.records) == ("written", "backfill", 2)
    assert report is not None and [batch.applied_rows for batch in report.batches] == [2]
    rows = comment_rows(settings.database_url)
    assert [rows[num]["model_version"] for num in alice + bob] == ["test-keywords@2"] * 2 + [
        "test-keywords@1"
    ]
    assert (rows[alice[0]]["label"], rows[alice[0]]["remark"]) == ("joy", "ok")
    assert pipeline_status(settings)["last_predict"]["kind"] == "backfill"
    again, report = run_backfill(settings, KeywordClassifier("test-keywords@3"), run_id="bf-1")
    assert (again.status, report) == ("already-done", None)


def test_backfill_filters_by_time_and_prediction(settings: Settings, classifier: KeywordClassifier) -> None:
    nums = add_comments(settings.database_url, ["old", "new", "newest"])
    now = datetime.now(UTC)
    with engine_for(settings.database_url).begin() as connection:
        for num, age in zip(nums, (10, 2, 1), strict=True):
            connection.execute(
                update(Comment).where(Comment.num == num).values(request_time=now - timedelta(days=age))
            )
    predict_pending(settings, classifier, run_id="run-a", limit=2)  # "newest" is still pending
    apply_logs(settings)
    selection = BackfillFilter(since=now - timedelta(days=5), predicted_only=True)
    result, _ = run_backfill(settings, KeywordClassifier("test-keywords@2"), selection)
    assert result.records == 1
    rows = comment_rows(settings.database_url)
    assert [rows[num]["model_version"] for num in nums] == ["test-keywords@1", "test-keywords@2", None]


def test_backfill_of_nothing_writes_nothing(settings: Settings) -> None:
    result, report = run_backfill(settings, KeywordClassifier("x"), BackfillFilter(request_user="nobody"))
    assert (result.status, report) == ("nothing-pending", None)
    assert not list(settings.log_dir.rglob("*.jsonl"))
