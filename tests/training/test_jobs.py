"""Queued model jobs: the worker's launcher runs one in a child process (re-scoring the unlabelled
comments with the active model), and a running job whose process went silent is marked failed."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select, update

from threekcal.db import registry
from threekcal.db.models import Comment, TrainingJob
from threekcal.db.session import engine_for, session_factory
from threekcal.model import load_classifier
from threekcal.pipeline import model_jobs
from threekcal.settings import Settings


def test_the_worker_launches_a_queued_rescore_job_that_scores_only_unlabelled_comments(
    train_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    with engine_for(train_settings.database_url).begin() as connection:
        # one insert per row: an executemany takes its columns from the first row only
        connection.execute(
            insert(Comment).values(comments="so happy today", request_user="u", request_time=now, receipt="a")
        )
        connection.execute(
            insert(Comment).values(
                comments="why so sad", request_user="u", request_time=now, receipt="b",
                label="sadness", labeled_by="x", labeled_at=now,
            )
        )  # fmt: skip
    with session_factory(train_settings.database_url)() as session:
        registry.ensure_initial_version(session, train_settings.model)
        job = registry.queue_job(session, kind="rescore", params={}, author="mina")
    for key, value in {
        "THREEKCAL_DATABASE_URL": train_settings.database_url,
        "THREEKCAL_MODEL": train_settings.model,
        "THREEKCAL_LOG_DIR": str(train_settings.log_dir),
        "THREEKCAL_CACHE_DIR": str(train_settings.cache_dir),
        "THREEKCAL_ENV": "test",
        "THREEKCAL_ADMIN_TOKEN": train_settings.admin_token_value(),
        "HF_HUB_OFFLINE": "1",
    }.items():
        monkeypatch.setenv(key, value)
    assert os.environ["THREEKCAL_DATABASE_URL"] == train_settings.database_url

    assert model_jobs.launch_queued_job(train_settings) == job.id
    assert model_jobs.launch_queued_job(train_settings) is None  # one job at a time
    deadline = time.monotonic() + 300  # a loaded shared machine: loading torch alone can take a while
    while True:
        with session_factory(train_settings.database_url)() as session:
            state = registry.get_job(session, job.id)
            if state.state in ("succeeded", "failed"):
                break
        assert time.monotonic() < deadline, "the job never finished"
        time.sleep(0.5)
    assert state.state == "succeeded", state.log_tail
    expected = load_classifier(train_settings.model, settings=train_settings).predict(["so happy today"])[0]
    with engine_for(train_settings.database_url).connect() as connection:
        rows = dict(connection.execute(select(Comment.receipt, Comment.prediction_result)).all())
    assert rows == {"a": expected.label, "b": None}


def test_a_running_job_that_stopped_reporting_is_marked_failed(train_settings: Settings) -> None:
    with session_factory(train_settings.database_url)() as session:
        job = registry.queue_job(session, kind="train", params={}, author="mina")
        assert registry.claim_next_job(session).id == job.id
        assert registry.claim_next_job(session) is None  # claimed once
        assert registry.fail_stale_jobs(session, stale_after=timedelta(minutes=5)) == []
        session.execute(update(TrainingJob).values(heartbeat_at=datetime.now(UTC) - timedelta(minutes=10)))
        session.commit()
        assert registry.fail_stale_jobs(session, stale_after=timedelta(minutes=5)) == [job.id]
        session.expire_all()
        failed = registry.get_job(session, job.id)
    assert failed.state == "failed" and "stopped reporting" in (failed.log_tail or "")


def test_a_finished_job_is_not_run_again(train_settings: Settings) -> None:
    with session_factory(train_settings.database_url)() as session:
        job = registry.queue_job(session, kind="train", params={}, author="mina")
        registry.claim_next_job(session)
        registry.finish_job(session, job.id, succeeded=False, log_tail="error: not enough labels")
    with pytest.raises(registry.RegistryError, match="already failed"):
        model_jobs.run_job(train_settings, job.id)
