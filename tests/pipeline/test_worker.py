"""The embedded worker's loop, in process (the real process is killed in test_worker_crash.py)."""

from __future__ import annotations

import logging
import signal
import threading
import time

import pytest
from pipeline_helpers import KeywordClassifier, add_comments, comment_rows

from threekcal.pipeline.worker import StopFlag, run_cycle, run_worker
from threekcal.settings import Settings


def test_a_cycle_predicts_and_applies(settings: Settings, classifier: KeywordClassifier) -> None:
    add_comments(settings.database_url, ["happy", "wow"])
    assert run_cycle(settings, classifier) is True
    assert [row["prediction_result"] for row in comment_rows(settings.database_url).values()] == [
        "joy",
        "surprise",
    ]
    assert run_cycle(settings, classifier) is False  # nothing left: no work, no log line


def test_the_worker_stops_when_asked_and_exits_zero(
    settings: Settings, classifier: KeywordClassifier
) -> None:
    stop = StopFlag()
    add_comments(settings.database_url, ["sad"])
    exit_codes: list[int] = []
    worker = threading.Thread(
        target=lambda: exit_codes.append(run_worker(settings, classifier, interval=0.05, stop=stop))
    )
    worker.start()
    try:  # stop once the comment is predicted, however long a cycle takes on this machine
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all(
            row["prediction_result"] for row in comment_rows(settings.database_url).values()
        ):
            time.sleep(0.05)
    finally:
        stop.event.set()
        worker.join(timeout=120)
    assert not worker.is_alive() and exit_codes == [0]
    assert [row["prediction_result"] for row in comment_rows(settings.database_url).values()] == ["sadness"]


def test_a_second_signal_exits_at_once() -> None:
    stop = StopFlag()
    stop.handle(signal.SIGTERM, None)
    assert stop.is_set()
    with pytest.raises(SystemExit) as exited:
        stop.handle(signal.SIGINT, None)
    assert exited.value.code == 128 + signal.SIGINT


class BrokenClassifier(KeywordClassifier):
    def predict(self, texts, **_):  # type: ignore[no-untyped-def]
        raise RuntimeError("model crashed")


def test_a_failing_cycle_is_logged_and_the_worker_goes_on(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    add_comments(settings.database_url, ["happy"])
    with caplog.at_level(logging.ERROR):
        assert run_worker(settings, BrokenClassifier(), once=True) == 0
    assert "worker cycle failed" in caplog.text
    assert run_worker(settings, KeywordClassifier(), once=True) == 0
    assert all(row["prediction_result"] for row in comment_rows(settings.database_url).values())
