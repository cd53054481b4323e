"""The Spark engine gives the local engine's result, row for row, on SQLite and on MariaDB."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pipeline_helpers import batch_rows, comment_rows, record, register_log, write_log_lines
from sqlalchemy import delete, insert, select, update

from threekcal.db.models import Base, Comment, PredictionBatch, PredictionStaging
from threekcal.db.session import engine_for
from threekcal.emotions import LABELS
from threekcal.pipeline import logfiles, spark_apply
from threekcal.pipeline.apply import apply_logs
from threekcal.settings import Settings

pytestmark = [pytest.mark.spark, pytest.mark.slow]

RUN = "run-edge"
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def seed(database_url: str) -> None:
    """Comments 1-8 from scratch; 5 already has a newer prediction, 6 is labelled."""
    engine = engine_for(database_url)
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
        for num in range(1, 9):
            connection.execute(
                insert(Comment).values(
                    num=num, comments=f"comment {num}", request_user="u", request_time=T0, receipt=f"r{num}"
                )
            )
        newer = {name: (0.4 if name == "disgust" else 0.1) for name in LABELS}
        connection.execute(
            update(Comment)
            .where(Comment.num == 5)
            .values(
                prediction_result="disgust",
                prediction_score=0.4,
                prediction_scores=newer,
                prediction_time=T0 + timedelta(hours=1),
                model_version="newer@2",
            )
        )
        connection.execute(
            update(Comment).where(Comment.num == 6).values(label="fear", remark="kept", labeled_by="admin")
        )


def line(num: int, label: str = "joy", when: datetime = T0) -> str:
    return json.dumps(record(num, RUN, label, when=when))


def bad(**change: Any) -> str:
    """A record for comment 1 with ``change`` applied."""
    return json.dumps(record(1, RUN, "joy", when=T0) | change)


def edge_case_log() -> list[str]:
    good = json.loads(line(8))
    scores = good["prediction_scores"]
    return [
        line(1, "joy"),
        line(2, "anger"),
        line(2, "sadness", T0 + timedelta(seconds=1)),  # newer: wins
        line(3, "fear", T0 + timedelta(seconds=1)),
        line(3, "surprise"),  # older: loses
        line(4, "joy"),
        line(4, "neutral"),  # same time: the later line wins
        line(5, "joy"),  # older than the stored prediction: guarded
        line(6, "anger"),  # labelled comment: prediction only
        line(999, "joy"),  # unknown num
        json.dumps(record(7, RUN, "joy") | {"prediction_time": "2026-11-24T21:00:00.5+09:00"}),
        json.dumps(record(8, RUN, "joy") | {"prediction_time": "2026-11-24T12:00:00Z", "extra": {"a": [1]}}),
        "",
        line(1, "joy")[:60],  # truncated
        "garbage \u2603",
        "[1, 2, 3]",
        line(1, "joy") + " trailing",
        line(1, "joy") + line(2, "joy"),
        "{'num': 1}",
        bad(num="1"),
        bad(num=1.5),
        bad(num=0),
        bad(prediction_result="happy"),
        bad(prediction_score=1.5),
        bad(prediction_score=0.2),  # not prediction_scores[joy]
        bad(prediction_scores={k: v for k, v in scores.items() if k != "fear"}),
        bad(prediction_scores=scores | {"love": 0.0}),
        bad(prediction_scores=scores | {"anger": 0.4}),  # sums to 1.3
        bad(prediction_scores=scores | {"anger": None}),
        bad(model_version=""),
        bad(model_version=5),
        bad(prediction_time="2026-11-24T12:00:00"),
        bad(prediction_time="2026-13-24T12:00:00Z"),
        bad(prediction_time="2026-11-24T12:00:00+19:00"),
        bad(run_id="someone-else"),
        line(1).replace('"prediction_score": 0.4', '"prediction_score": NaN'),
        # a repeated key: the last value wins (num 2), so this is the newest record of comment 2
        line(1, "surprise", T0 + timedelta(seconds=3)).replace('{"num": 1', '{"num": 1, "num": 2', 1),
        line(3, "anger", T0 + timedelta(seconds=2)) + "\r",  # CRLF line: valid, newest for 3
    ]


def snapshot(settings: Settings) -> dict[str, Any]:
    batch = batch_rows(settings.database_url)[RUN]
    quarantine = logfiles.quarantine_path(settings.log_dir, RUN).read_text().splitlines()
    return {
        "comments": comment_rows(settings.database_url),
        "counts": (batch["records"], batch["applied_rows"], batch["unknown_nums"], batch["quarantined"]),
        "details": {key: batch["details"][key] for key in ("valid_lines", "records", "unknown_sample")},
        "quarantined": [json.loads(entry)["line_no"] for entry in quarantine],
    }


def run_engine(settings: Settings, engine: str, spark: Any) -> dict[str, Any]:
    seed(settings.database_url)
    relpath = write_log_lines(settings.log_dir, RUN, edge_case_log())
    register_log(settings.database_url, RUN, relpath, len(edge_case_log()), 1, 999)
    report = apply_logs(settings, engine=engine, spark=spark, chunk_size=3)
    assert [batch.engine for batch in report.batches] == [engine]
    return snapshot(settings)


def staging_write(settings: Settings) -> str | None:
    return batch_rows(settings.database_url)[RUN]["details"].get("staging_write")


def expected_staging_write(settings: Settings) -> str:
    """JDBC on MariaDB (Connector/J is a system dependency: a missing jar fails here, never falls back)."""
    if settings.database_url.startswith("sqlite"):
        return spark_apply.STAGING_WRITE_DRIVER
    assert spark_apply.jdbc_jar() is not None, "install libmariadb-java (make system-deps)"
    return spark_apply.STAGING_WRITE_JDBC


def test_spark_engine_matches_the_local_engine_row_for_row(settings: Settings, spark: Any) -> None:
    local = run_engine(settings, "local", spark)
    by_spark = run_engine(settings, "spark", spark)
    assert staging_write(settings) == expected_staging_write(settings)

    # The local engine streams the log in chunks (3 lines here) and counts a num repeated in two chunks once
    # per chunk, in its records and in its rows updated; Spark reads the whole log at once. Rows are equal.
    local_details, spark_details = local.pop("details"), by_spark.pop("details")
    local_counts, spark_counts = local.pop("counts"), by_spark.pop("counts")
    assert by_spark == local
    assert local_details == {**spark_details, "records": 12}
    assert local_counts == (38, 10, 1, 23)
    rows = by_spark["comments"]
    assert [rows[num]["prediction_result"] for num in range(1, 9)] == [
        "joy", "surprise", "anger", "neutral", "disgust", "anger", "joy", "joy",
    ]  # fmt: skip
    assert rows[5]["model_version"] == "newer@2"
    assert (rows[6]["label"], rows[6]["remark"]) == ("fear", "kept")
    assert rows[7]["prediction_time"] == T0 + timedelta(seconds=0.5)
    assert spark_counts == (38, 7, 1, 23)  # lines, rows updated, unknown nums, quarantined
    assert by_spark["quarantined"] == list(range(14, 37))
    assert spark_details == {"valid_lines": 14, "records": 9, "unknown_sample": [999]}
    # The merge leaves no staging rows behind.
    with engine_for(settings.database_url).connect() as connection:
        assert connection.execute(select(PredictionStaging.num)).all() == []


def test_spark_reapplying_a_batch_changes_zero_rows(
    settings: Settings, spark: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # First without Connector/J: the driver then writes the staging rows (SQLAlchemy) on MariaDB too.
    with monkeypatch.context() as patch, caplog.at_level(logging.WARNING, logger=spark_apply.__name__):
        patch.setattr(spark_apply, "jdbc_jar", lambda: None)
        assert run_engine(settings, "spark", spark)["counts"] == (38, 7, 1, 23)
    assert staging_write(settings) == spark_apply.STAGING_WRITE_DRIVER
    fell_back = "Connector/J is not installed" in caplog.text
    assert fell_back == (not settings.database_url.startswith("sqlite"))  # the fallback is never silent
    before = comment_rows(settings.database_url)
    with engine_for(settings.database_url).begin() as connection:
        connection.execute(
            update(PredictionBatch).where(PredictionBatch.run_id == RUN).values(applied_at=None)
        )
        # and leftovers of an attempt that died between its staging write and its merge
        connection.execute(delete(PredictionStaging))
        connection.execute(
            insert(PredictionStaging).values(
                run_id=RUN,
                num=1,
                prediction_result="anger",
                prediction_score=1.0,
                prediction_scores={name: float(name == "anger") for name in LABELS},
                prediction_time=T0 + timedelta(days=1),
                model_version="leftover",
            )
        )
    report = apply_logs(settings, engine="spark", spark=spark)
    assert [batch.applied_rows for batch in report.batches] == [0]
    assert comment_rows(settings.database_url) == before
    assert staging_write(settings) == expected_staging_write(settings)
