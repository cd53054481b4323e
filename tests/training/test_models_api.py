"""The registry over HTTP: list, promote, roll back, queue training (run by the job runner, not the
API), job progress, drift. Versions and jobs need a signed-in account, the actions an admin (api/policy.py);
every action is audited with the admin's username."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from drift_fixture import seed_drift
from fastapi.testclient import TestClient
from labelled_corpus import add_labelled, labelled_corpus

from threekcal.api import create_app
from threekcal.api.auth import issue_access_token
from threekcal.db import accounts, registry
from threekcal.db.session import session_factory
from threekcal.pipeline.model_jobs import run_job
from threekcal.settings import Settings


@pytest.fixture
def client(train_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(train_settings)) as test_client:
        yield test_client


def _bearer(settings: Settings, username: str, role: str) -> dict[str, str]:
    with session_factory(settings.database_url)() as session:
        user = accounts.create_user(session, username, role=role, password=None)
        return {"Authorization": f"Bearer {issue_access_token(settings, user)}"}


@pytest.fixture
def admin(train_settings: Settings) -> dict[str, str]:
    return _bearer(train_settings, "mina", "admin")


@pytest.fixture
def annotator(train_settings: Settings) -> dict[str, str]:
    return _bearer(train_settings, "ana", "annotator")


@pytest.fixture
def versions(train_settings: Settings, tmp_path: Path) -> tuple[int, int]:
    with session_factory(train_settings.database_url)() as session:
        first = registry.ensure_initial_version(session, train_settings.model)
        second = registry.register_candidate(
            session,
            source=str(tmp_path / "candidate"),
            tag=None,
            parent_id=first.version_id,
            created_by="tester",
            training_data_hash="0" * 64,
            training_data_size=0,
            metrics={"evaluation": {"verdict": "better"}},
        )
        return first.version_id, second.id


def test_models_lists_versions_and_admins_promote_and_roll_back(
    client: TestClient,
    admin: dict[str, str],
    annotator: dict[str, str],
    versions: tuple[int, int],
    train_settings: Settings,
) -> None:
    first, second = versions
    assert client.get("/models").status_code == 401  # authors and jobs are not public
    assert client.get(f"/models/{second}").status_code == 401
    listed = client.get("/models", headers=annotator).json()
    assert [(v["id"], v["status"]) for v in listed["versions"]] == [(first, "active"), (second, "candidate")]
    assert listed["active_id"] == first and listed["configured_model"] == train_settings.model
    assert client.get(f"/models/{second}", headers=annotator).json()["metrics"]["evaluation"]["verdict"] == (
        "better"
    )
    assert client.get("/models/424242", headers=annotator).status_code == 404

    assert client.post(f"/models/{second}/promote").status_code == 401
    wrong = {"Authorization": "Bearer wrong-token-123456"}
    assert client.post(f"/models/{second}/promote", headers=wrong).status_code == 401
    assert client.post(f"/models/{second}/promote", headers=annotator).status_code == 403
    assert client.post("/models/rollback", headers=annotator).status_code == 403
    promoted = client.post(f"/models/{second}/promote", headers=admin)
    assert promoted.status_code == 200 and promoted.json()["status"] == "active"
    assert client.post(f"/models/{second}/promote", headers=admin).status_code == 409
    assert client.post("/models/424242/promote", headers=admin).status_code == 404
    rolled = client.post("/models/rollback", headers=admin)
    assert rolled.status_code == 200 and rolled.json()["id"] == first
    with session_factory(train_settings.database_url)() as session:
        audit = [(event.action, event.author) for event in registry.events(session)]
    assert audit[:2] == [("rollback", "mina"), ("promote", "mina")]


def test_training_is_queued_by_the_api_and_run_by_the_job_runner(
    client: TestClient, admin: dict[str, str], annotator: dict[str, str], train_settings: Settings
) -> None:
    add_labelled(train_settings.database_url, labelled_corpus(1250))
    assert client.post("/models/train", json={}).status_code == 401
    assert client.post("/models/train", json={}, headers=annotator).status_code == 403
    assert client.post("/models/rescore", headers=annotator).status_code == 403
    for bad in ({"epochs": 0}, {"learning_rate": 5}, {"label_sources": ["robots"]}, {"surprise": 1}):
        assert client.post("/models/train", json=bad, headers=admin).status_code == 422, bad
    assert client.post("/models/train", json={"base_version_id": 999}, headers=admin).status_code == 404
    queued = client.post("/models/train", json={"epochs": 8}, headers=admin)
    assert queued.status_code == 202, queued.text
    job = queued.json()
    assert (job["state"], job["kind"], job["created_by"], job["progress"]) == ("queued", "train", "mina", 0.0)
    assert job["params"]["label_sources"] == ["chosen", "accepted", "resolved"]  # no bulk_accepted
    with session_factory(train_settings.database_url)() as session:
        assert registry.list_versions(session) == []  # the API trained nothing

    summary = run_job(train_settings, job["id"])

    assert summary["state"] == "succeeded" and summary["verdict"] == "better"
    assert client.get(f"/models/jobs/{job['id']}").status_code == 401  # log tails are not public
    done = client.get(f"/models/jobs/{job['id']}", headers=annotator).json()
    assert done["state"] == "succeeded" and done["progress"] == 1.0
    assert done["result_version_id"] == summary["version_id"] and "step" in done["log_tail"]
    listed = client.get("/models", headers=annotator).json()
    candidate = next(v for v in listed["versions"] if v["id"] == summary["version_id"])
    assert candidate["status"] == "candidate" and candidate["created_by"] == "mina"
    assert candidate["metrics"]["evaluation"]["candidate"]["accuracy"] >= 0.8
    assert client.get("/models/jobs/999999", headers=annotator).status_code == 404


def test_a_job_without_enough_labels_fails_with_the_reason_in_its_log(
    client: TestClient, admin: dict[str, str], train_settings: Settings
) -> None:
    job = client.post("/models/train", json={}, headers=admin).json()
    assert run_job(train_settings, job["id"])["state"] == "failed"
    failed = client.get(f"/models/jobs/{job['id']}", headers=admin).json()
    assert failed["state"] == "failed" and "THREEKCAL_TRAIN_MIN_LABELS" in failed["log_tail"]


def test_drift_returns_the_flagged_days_and_refuses_a_half_or_reversed_reference(
    client: TestClient, train_settings: Settings
) -> None:
    assert client.get("/drift").json()["days"] == []  # no active predictions yet
    seed_drift(train_settings)
    report = client.get("/drift").json()  # public, like /stats: figures, no usernames
    assert len(report["flagged_days"]) == 7 and report["reference"]["count"] == 7 * 140
    assert client.get("/drift", params={"reference_start": "2026-10-01T00:00:00Z"}).status_code == 400
    reversed_window = {"reference_start": "2026-10-08T00:00:00Z", "reference_end": "2026-10-01T00:00:00Z"}
    refused = client.get("/drift", params=reversed_window)
    assert refused.status_code == 400 and "must end after it starts" in refused.json()["detail"]
