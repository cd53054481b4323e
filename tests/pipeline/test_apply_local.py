"""The apply step with the local engine: exactly once, newest wins, labels untouched, bad lines aside."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from pipeline_helpers import (
    KeywordClassifier,
    add_comments,
    add_log,
    batch_rows,
    comment_rows,
    record,
    register_log,
    write_log_lines,
)
from sqlalchemy import insert, select, update

from threekcal.db.models import Comment, LabelEvent, PredictionBatch
from threekcal.db.session import engine_for
from threekcal.pipeline import logfiles
from threekcal.pipeline.apply import apply_logs
from threekcal.pipeline.apply_local import apply_batch_local
from threekcal.pipeline.batches import get_batch
from threekcal.pipeline.locks import step_lock
from threekcal.pipeline.merge import AlreadyApplied
from threekcal.pipeline.predict import predict_pending
from threekcal.settings import Settings

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def unapply(database_url: str, run_id: str) -> None:
    """Make a batch look not applied again, as a re-run after a lost acknowledgement would see it."""
    with engine_for(database_url).begin() as connection:
        connection.execute(
            update(PredictionBatch).where(PredictionBatch.run_id == run_id).values(applied_at=None)
        )


def test_apply_writes_the_predictions_and_marks_the_batch(settings: Settings) -> None:
    nums = add_comments(settings.database_url, ["a", "b"])
    add_log(
        settings.database_url,
        settings.log_dir,
        "run-a",
        [record(nums[0], "run-a", "joy", when=T0), record(nums[1], "run-a", "fear", when=T0)],
    )
    report = apply_logs(settings)

    assert [(batch.run_id, batch.applied_rows, batch.records) for batch in report.batches] == [
        ("run-a", 2, 2)
    ]
    rows = comment_rows(settings.database_url)
    first = rows[nums[0]]
    assert (first["prediction_result"], first["prediction_score"]) == ("joy", 0.4)
    assert first["prediction_scores"]["joy"] == 0.4 and len(first["prediction_scores"]) == 7
    assert first["prediction_time"] == T0 and first["model_version"] == "test-model@1"
    assert rows[nums[1]]["prediction_result"] == "fear"
    batch = batch_rows(settings.database_url)["run-a"]
    assert batch["applied_at"] is not None and batch["engine"] == "local"
    assert (batch["applied_rows"], batch["unknown_nums"], batch["quarantined"]) == (2, 0, 0)
    assert apply_logs(settings).batches == []  # nothing left to apply


def test_reapplying_a_batch_changes_zero_rows(settings: Settings) -> None:
    nums = add_comments(settings.database_url, ["a", "b"])
    add_log(settings.database_url, settings.log_dir, "run-a", [record(num, "run-a", when=T0) for num in nums])
    apply_logs(settings)
    before = comment_rows(settings.database_url)
    unapply(settings.database_url, "run-a")

    report = apply_logs(settings)
    assert [batch.applied_rows for batch in report.batches] == [0]
    assert comment_rows(settings.database_url) == before


def test_a_late_older_log_never_overwrites_a_newer_prediction(settings: Settings) -> None:
    nums = add_comments(settings.database_url, ["a"])
    add_log(settings.database_url, settings.log_dir, "run-new", [record(nums[0], "run-new", "joy", when=T0)])
    apply_logs(settings)
    late = [record(nums[0], "run-old", "anger", when=T0 - timedelta(minutes=5))]
    add_log(settings.database_url, settings.log_dir, "run-old", late)

    report = apply_logs(settings)
    assert [batch.applied_rows for batch in report.batches] == [0]
    assert comment_rows(settings.database_url)[nums[0]]["prediction_result"] == "joy"


def test_a_late_log_after_an_admin_labelled_the_comment_keeps_label_and_remark(settings: Settings) -> None:
    nums = add_comments(settings.database_url, ["a"])
    labelled_at = T0 + timedelta(minutes=1)
    with engine_for(settings.database_url).begin() as connection:
        connection.execute(
            update(Comment)
            .where(Comment.num == nums[0])
            .values(label="sadness", remark="clearly sad", labeled_by="admin", labeled_at=labelled_at)
        )
        connection.execute(
            insert(LabelEvent).values(
                num=nums[0], action="set", changed_by="admin", changed_at=labelled_at, new_label="sadness"
            )
        )
    add_log(
        settings.database_url, settings.log_dir, "run-late", [record(nums[0], "run-late", "joy", when=T0)]
    )

    apply_logs(settings)
    row = comment_rows(settings.database_url)[nums[0]]
    assert row["prediction_result"] == "joy"
    assert (row["label"], row["remark"], row["labeled_by"], row["labeled_at"]) == (
        "sadness",
        "clearly sad",
        "admin",
        labelled_at,
    )
    with engine_for(settings.database_url).connect() as connection:
        events = connection.execute(select(LabelEvent.num, LabelEvent.new_label)).all()
    assert events == [(nums[0], "sadness")]


def test_unknown_nums_are_reported_not_fatal(settings: Settings) -> None:
    nums = add_comments(settings.database_url, ["a"])
    add_log(
        settings.database_url,
        settings.log_dir,
        "run-a",
        [record(nums[0], "run-a", when=T0), record(nums[0] + 1000, "run-a", when=T0)],
    )
    report = apply_logs(settings)
    assert [(batch.applied_rows, batch.unknown_nums) for batch in report.batches] == [(1, 1)]
    batch = batch_rows(settings.database_url)["run-a"]
    assert batch["unknown_nums"] == 1 and batch["details"]["unknown_sample"] == [nums[0] + 1000]


def test_truncated_and_garbage_lines_are_quarantined_and_the_rest_applies(settings: Settings) -> None:
    nums = add_comments(settings.database_url, ["a", "b", "c"])
    lines = [
        json.dumps(record(nums[0], "run-a", when=T0)),
        "\x00\x01 garbage \u2603",
        json.dumps(record(nums[1], "run-a", when=T0)),
        json.dumps(record(nums[2], "run-a", when=T0))[:50],  # the writer died mid-line
    ]
    relpath = write_log_lines(settings.log_dir, "run-a", lines, newline_at_end=False)
    register_log(settings.database_url, "run-a", relpath, 4, nums[0], nums[2])

    report = apply_logs(settings)
    assert [(batch.applied_rows, batch.quarantined) for batch in report.batches] == [(2, 2)]
    rows = comment_rows(settings.database_url)
    assert [rows[num]["prediction_result"] is not None for num in nums] == [True, True, False]
    quarantine = logfiles.quarantine_path(settings.log_dir, "run-a").read_text().splitlines()
    entries = [json.loads(line) for line in quarantine]
    assert [(entry["line_no"], entry["line"]) for entry in entries] == [(2, lines[1]), (4, lines[3])]
    assert all(entry["reason"] for entry in entries)
    batch = batch_rows(settings.database_url)["run-a"]
    assert batch["quarantined"] == 2 and batch["details"]["quarantine_path"] == "quarantine/run-a.jsonl"
    # The comment of the truncated line is not lost: it is pending again.
    assert predict_pending(settings, KeywordClassifier(), run_id="run-b").records == 1


def test_a_stopped_chunked_apply_resumes_after_its_last_committed_chunk(settings: Settings) -> None:
    nums = add_comments(settings.database_url, [f"t{i}" for i in range(5)])
    add_log(settings.database_url, settings.log_dir, "run-a", [record(num, "run-a", when=T0) for num in nums])
    stop_after_two = iter([False, False, False, True])  # the batch, then chunks 1 and 2
    first = apply_logs(settings, chunk_size=2, should_stop=lambda: next(stop_after_two, True))
    assert first.stopped and first.batches == []
    rows = comment_rows(settings.database_url)
    assert [rows[num]["prediction_result"] is not None for num in nums] == [True] * 4 + [False]
    progress = batch_rows(settings.database_url)["run-a"]["details"]["apply_progress"]
    assert (progress["chunks_done"], progress["applied_rows"]) == (2, 4)

    second = apply_logs(settings, chunk_size=2)
    assert [(batch.applied_rows, batch.records) for batch in second.batches] == [(5, 5)]
    batch = batch_rows(settings.database_url)["run-a"]
    assert batch["applied_rows"] == 5 and "apply_progress" not in batch["details"]


def test_a_batch_applied_meanwhile_is_rolled_back_not_applied_twice(settings: Settings) -> None:
    nums = add_comments(settings.database_url, ["a"])
    add_log(settings.database_url, settings.log_dir, "run-a", [record(nums[0], "run-a", when=T0)])
    with engine_for(settings.database_url).connect() as connection:
        stale = get_batch(connection, "run-a")
    with engine_for(settings.database_url).begin() as connection:
        connection.execute(
            update(PredictionBatch).where(PredictionBatch.run_id == "run-a").values(applied_at=T0)
        )
    with pytest.raises(AlreadyApplied):
        apply_batch_local(settings, stale)
    assert comment_rows(settings.database_url)[nums[0]]["prediction_result"] is None


def test_a_log_not_published_yet_waits(settings: Settings) -> None:
    nums = add_comments(settings.database_url, ["a"])
    register_log(settings.database_url, "run-a", "date=2026-11-24/run-a.jsonl", 1, nums[0], nums[0])
    with step_lock(settings.database_url, "predict"):  # its predict is still running
        report = apply_logs(settings)
    assert report.waiting == ["run-a"] and report.batches == []
    assert batch_rows(settings.database_url)["run-a"]["applied_at"] is None


def test_an_unknown_engine_is_refused(settings: Settings) -> None:
    with pytest.raises(ValueError, match="engine"):
        apply_logs(settings, engine="pandas")
