"""Validation of log lines and reading a whole log (no database)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pipeline_helpers import record

from threekcal.pipeline.records import check_line, parse_log

RUN = "run-1"


def valid() -> dict:
    return record(7, RUN, "sadness", when=datetime(2026, 11, 24, 12, 0, tzinfo=UTC))


def test_a_record_written_by_predict_is_valid() -> None:
    checked = check_line(json.dumps(valid()), RUN)
    assert not isinstance(checked, str)
    assert (checked.num, checked.prediction_result, checked.prediction_score) == (7, "sadness", 0.4)
    assert checked.utc_time() == datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"num": 0}, "num"),
        ({"num": "7"}, "num"),
        ({"num": 7.5}, "num"),
        ({"num": True}, "num"),
        ({"prediction_result": "happy"}, "prediction_result"),
        ({"prediction_score": 1.5}, "prediction_score"),
        ({"prediction_scores": {"joy": 1.0}}, "prediction_scores"),
        ({"prediction_score": 0.1}, "prediction_score"),  # not the label's probability
        ({"model_version": ""}, "model_version"),
        ({"model_version": 3}, "model_version"),
        ({"prediction_time": "2026-11-24T12:00:00"}, "prediction_time"),  # no offset
        ({"prediction_time": "2026-13-24T12:00:00+00:00"}, "prediction_time"),
        ({"run_id": "another-run"}, "run_id"),
    ],
)
def test_each_rule_names_the_field(change: dict, reason: str) -> None:
    checked = check_line(json.dumps(valid() | change), RUN)
    assert isinstance(checked, str)
    assert reason in checked


def test_scores_must_have_the_seven_labels_summing_to_one() -> None:
    extra = valid()
    extra["prediction_scores"] = extra["prediction_scores"] | {"love": 0.0}
    assert "love" in check_line(json.dumps(extra), RUN)
    unbalanced = valid()
    unbalanced["prediction_scores"] = unbalanced["prediction_scores"] | {"joy": 0.5}
    assert "sum" in check_line(json.dumps(unbalanced), RUN)


@pytest.mark.parametrize(
    "line", ['{"num": 7, "prediction_res', "garbage", "[1, 2]", '{"num": 1} {"num": 2}', "null"]
)
def test_garbage_is_rejected(line: str) -> None:
    assert isinstance(check_line(line, RUN), str)


def test_parse_log_keeps_newest_per_num_and_quarantines_bad_lines(tmp_path: Path) -> None:
    early = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    lines = [
        json.dumps(record(1, RUN, "joy", when=early + timedelta(seconds=5))),
        json.dumps(record(1, RUN, "anger", when=early)),  # older: loses although later in the file
        "",
        json.dumps(record(2, RUN, "fear", when=early)),
        "this is not json",
        json.dumps(record(2, RUN, "surprise", when=early)),  # same time: the later line wins
        json.dumps(record(3, RUN, "joy"))[:40],  # truncated last line, no newline
    ]
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    parsed = parse_log(path, RUN)
    assert [(item.num, item.prediction_result) for item in parsed.records] == [(1, "joy"), (2, "surprise")]
    assert parsed.valid_lines == 4
    assert [(line.line_no, line.line) for line in parsed.quarantined] == [(5, lines[4]), (7, lines[6])]
    assert all(line.reason for line in parsed.quarantined)
