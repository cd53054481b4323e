"""The predict step: pending comments -> one atomic, registered log per run; crash recovery."""

from __future__ import annotations

import json

import pytest
from pipeline_helpers import KeywordClassifier, add_comments, batch_rows, comment_rows, record, register_log
from sqlalchemy import update

from threekcal.db.models import Comment
from threekcal.db.session import engine_for
from threekcal.pipeline import batches, logfiles
from threekcal.pipeline.apply import apply_logs
from threekcal.pipeline.locks import step_lock
from threekcal.pipeline.predict import predict_pending
from threekcal.pipeline.runids import run_id_for
from threekcal.settings import Settings


def read_log(settings: Settings, relpath: str) -> list[dict]:
    return [json.loads(line) for line in logfiles.resolve(settings.log_dir, relpath).read_text().splitlines()]


def test_predict_writes_one_log_with_a_record_per_pending_comment(
    settings: Settings, classifier: KeywordClassifier
) -> None:
    nums = add_comments(settings.database_url, ["so happy today", "I am scared", "meh", "wow!"])
    result = predict_pending(settings, classifier, run_id="run-a", chunk_size=3)

    assert result.status == "written" and result.records == 4
    assert result.log_path.startswith("date=") and result.log_path.endswith("/run-a.jsonl")
    records = read_log(settings, result.log_path)
    assert [item["num"] for item in records] == nums
    assert [item["prediction_result"] for item in records] == ["joy", "fear", "neutral", "surprise"]
    assert {item["run_id"] for item in records} == {"run-a"}
    assert {item["model_version"] for item in records} == {"test-keywords@1"}
    assert all(item["prediction_time"].endswith("+00:00") for item in records)
    assert classifier.calls == [3, 1]
    # Nothing half-written is left behind.
    assert list((settings.log_dir / logfiles.INCOMING_DIR).rglob("*.jsonl")) == []
    batch = batch_rows(settings.database_url)["run-a"]
    assert (batch["records"], batch["num_min"], batch["num_max"]) == (4, nums[0], nums[-1])
    assert batch["applied_at"] is None and batch["kind"] == "predict"
    # The predictions reach the table only through apply.
    assert all(row["prediction_result"] is None for row in comment_rows(settings.database_url).values())


def test_comments_in_a_waiting_log_are_not_pending(settings: Settings, classifier: KeywordClassifier) -> None:
    add_comments(settings.database_url, ["a", "b"])
    assert batches.count_pending(settings.database_url) == 2
    predict_pending(settings, classifier, run_id="run-a")
    assert batches.count_pending(settings.database_url) == 0
    assert predict_pending(settings, classifier, run_id="run-b").status == "nothing-pending"
    later = add_comments(settings.database_url, ["c"])
    second = predict_pending(settings, classifier, run_id="run-c")
    assert [item["num"] for item in read_log(settings, second.log_path)] == later
    apply_logs(settings)
    assert batches.count_pending(settings.database_url) == 0
    assert all(row["prediction_result"] for row in comment_rows(settings.database_url).values())


def test_limit_bounds_a_run(settings: Settings, classifier: KeywordClassifier) -> None:
    add_comments(settings.database_url, [f"text {i}" for i in range(5)])
    assert predict_pending(settings, classifier, run_id="run-a", limit=2, chunk_size=1).records == 2
    assert predict_pending(settings, classifier, run_id="run-b", limit=10).records == 3


def test_the_same_run_id_runs_once(settings: Settings, classifier: KeywordClassifier) -> None:
    add_comments(settings.database_url, ["a"])
    run_id = run_id_for("scheduled__2026-11-24T12:00:00+00:00")  # as an Airflow retry passes it again
    first = predict_pending(settings, classifier, run_id=run_id)
    add_comments(settings.database_url, ["b"])
    retry = predict_pending(settings, classifier, run_id=run_id)
    assert (first.status, retry.status) == ("written", "already-done")
    assert retry.log_path == first.log_path
    assert len(read_log(settings, first.log_path)) == 1


def test_a_bad_run_id_is_refused(settings: Settings, classifier: KeywordClassifier) -> None:
    with pytest.raises(ValueError, match="run id"):
        predict_pending(settings, classifier, run_id="../../etc/passwd")


def test_airflow_run_ids_map_to_stable_file_safe_ids() -> None:
    scheduled = run_id_for("scheduled__2026-11-24T12:00:00+00:00")
    assert scheduled == run_id_for("scheduled__2026-11-24T12:00:00+00:00")
    assert scheduled.startswith("scheduled__2026-11-24T12-00-00-00-00_")
    assert scheduled != run_id_for("scheduled__2026-11-24T12-00-00-00-00")
    assert run_id_for("worker__1") == "worker__1"
    assert len(run_id_for("manual__" + "x:" * 100)) <= 64


def test_a_second_predict_waits_its_turn(settings: Settings, classifier: KeywordClassifier) -> None:
    add_comments(settings.database_url, ["a"])
    with step_lock(settings.database_url, "predict") as held:
        assert held
        assert predict_pending(settings, classifier, run_id="run-a").status == "busy"
    assert predict_pending(settings, classifier, run_id="run-a").status == "written"


def test_a_stopped_run_writes_nothing(settings: Settings, classifier: KeywordClassifier) -> None:
    add_comments(settings.database_url, ["a", "b", "c"])
    calls = iter([False, True])
    result = predict_pending(
        settings, classifier, run_id="run-a", chunk_size=1, should_stop=lambda: next(calls)
    )
    assert result.status == "stopped"
    assert batch_rows(settings.database_url) == {}
    assert list(settings.log_dir.rglob("*.jsonl")) == []
    assert batches.count_pending(settings.database_url) == 3


def test_recovery_publishes_a_registered_log_whose_rename_never_happened(
    settings: Settings, classifier: KeywordClassifier
) -> None:
    nums = add_comments(settings.database_url, ["a", "b"])
    # A predict killed after registering its batch, before renaming its complete temporary file.
    temporary = logfiles.incoming_path(settings.log_dir, "predict", "run-dead")
    logfiles.write_json_lines_atomically(temporary, [record(num, "run-dead") for num in nums])
    register_log(settings.database_url, "run-dead", "date=2026-11-24/run-dead.jsonl", 2, nums[0], nums[-1])

    # The next predict publishes it, does not predict the claimed comments again, and apply applies it.
    assert predict_pending(settings, classifier, run_id="run-next").status == "nothing-pending"
    assert (settings.log_dir / "date=2026-11-24/run-dead.jsonl").exists()
    assert not temporary.exists()
    apply_logs(settings)
    rows = comment_rows(settings.database_url)
    assert {row["model_version"] for row in rows.values()} == {"test-model@1"}


def test_recovery_releases_the_comments_of_a_log_that_vanished(
    settings: Settings, classifier: KeywordClassifier
) -> None:
    nums = add_comments(settings.database_url, ["a", "b"])
    register_log(settings.database_url, "run-lost", "date=2026-11-24/run-lost.jsonl", 2, nums[0], nums[-1])
    assert batches.count_pending(settings.database_url) == 0

    result = predict_pending(settings, classifier, run_id="run-next")
    assert result.status == "written" and result.records == 2
    lost = batch_rows(settings.database_url)["run-lost"]
    assert lost["applied_at"] is not None and lost["applied_rows"] == 0 and "missing" in lost["note"]


def test_recovery_deletes_an_unregistered_temporary_log(
    settings: Settings, classifier: KeywordClassifier
) -> None:
    nums = add_comments(settings.database_url, ["a"])
    temporary = logfiles.incoming_path(settings.log_dir, "predict", "run-dead")
    logfiles.write_json_lines_atomically(temporary, [record(nums[0], "run-dead")])
    result = predict_pending(settings, classifier, run_id="run-next")
    assert not temporary.exists()
    assert result.records == 1  # the comment was never claimed, so it is predicted now


def test_blank_rows_written_outside_the_api_do_not_stop_the_others(
    settings: Settings, classifier: KeywordClassifier
) -> None:
    nums = add_comments(settings.database_url, ["happy", "sad"])
    with engine_for(settings.database_url).begin() as connection:
        connection.execute(update(Comment).where(Comment.num == nums[0]).values(comments="   "))
    result = predict_pending(settings, classifier, run_id="run-a")
    assert [item["num"] for item in read_log(settings, result.log_path)] == [nums[1]]
