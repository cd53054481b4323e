"""Health, pipeline state, and the OpenAPI document."""

from __future__ import annotations

import json
import sys
import types

from fastapi.testclient import TestClient
from sqlalchemy import text

from threekcal.db import migrate
from threekcal.db.session import engine_for
from threekcal.settings import Settings


def test_health_reports_the_schema_revision(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    head = migrate.head_revision()
    assert response.json() == {"status": "ok", "database": "ok", "schema_revision": head, "schema_head": head}


def test_health_is_503_when_the_schema_is_behind(client: TestClient, db_url: str) -> None:
    head = migrate.head_revision()
    with engine_for(db_url).begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'old'"))
    try:
        response = client.get("/health")
        assert response.status_code == 503
        assert response.json() == {
            "detail": f"Database schema is at revision old, this server needs {head}: "
            "run `threekcal db upgrade`"
        }
    finally:
        with engine_for(db_url).begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})


PIPELINE_STATE = {
    "pending": 3,
    "last_predict": {"run_id": "r1", "records": 5},
    "last_apply": None,
    "unapplied_logs": 1,
    "quarantined_lines": 0,
}


def test_pipeline_route_returns_what_pipeline_status_says(
    client: TestClient, settings: Settings, monkeypatch
) -> None:
    seen: list[Settings] = []
    fake = types.ModuleType("threekcal.pipeline.status")
    fake.pipeline_status = lambda s: seen.append(s) or PIPELINE_STATE  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "threekcal.pipeline.status", fake)
    response = client.get("/pipeline")
    assert response.status_code == 200
    assert response.json() == PIPELINE_STATE
    assert seen == [settings]


def test_pipeline_route_without_the_pipeline_module_is_503(client: TestClient, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "threekcal.pipeline.status", None)  # import fails as if absent
    response = client.get("/pipeline")
    assert response.status_code == 503
    assert response.json()["detail"].startswith("Pipeline status unavailable: ")


def test_pipeline_route_with_the_real_module(client: TestClient, settings: Settings) -> None:
    from threekcal.pipeline.status import pipeline_status

    assert client.post("/comments", json={"request_user": "kim", "comments": "waiting"}).status_code == 201
    response = client.get("/pipeline")
    assert response.status_code == 200, response.text
    assert set(PIPELINE_STATE) <= set(response.json())
    assert response.json() == json.loads(json.dumps(pipeline_status(settings), default=str))
    assert response.json()["pending"] == 1


ADMIN_ONLY = {
    ("get", "/comments"),
    ("get", "/comments/{num}"),
    ("put", "/comments/{num}/label"),
    ("get", "/comments/{num}/history"),
    ("post", "/labels/accept"),
    ("post", "/labels/undo"),
    ("get", "/users"),
    ("get", "/export"),
    ("get", "/comments/export"),
    ("get", "/stats/agreement"),
    ("get", "/disagreements"),
    ("post", "/disagreements/{num}/resolve"),
    ("get", "/accounts"),
    ("post", "/models/{version_id}/promote"),
    ("post", "/models/rollback"),
    ("post", "/models/train"),
    ("post", "/models/rescore"),
}
# any account: 401 without one, no 403 (model versions and jobs show authors and log tails)
SIGNED_IN = {
    ("get", "/auth/me"),
    ("get", "/models"),
    ("get", "/models/{version_id}"),
    ("get", "/models/jobs/{job_id}"),
}
IDENTIFIED = {("get", "/stats")}  # public; a valid token shows more (the per-user table to admins)


def test_openapi_documents_every_error_status(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    operations = {(m, p): op for p, item in document["paths"].items() for m, op in item.items()}
    assert set(ADMIN_ONLY) < set(operations)
    for (method, path), operation in operations.items():
        statuses = set(operation["responses"])
        assert {"413", "503"} <= statuses, (method, path)
        if "requestBody" in operation:
            assert {"400", "413", "422"} <= statuses, (method, path)
        if (method, path) in ADMIN_ONLY:
            assert {"401", "403"} <= statuses and operation["security"] == [{"HTTPBearer": []}], (
                method,
                path,
            )
        elif (method, path) in SIGNED_IN:
            assert "401" in statuses and operation["security"] == [{"HTTPBearer": []}], (method, path)
        elif (method, path) in IDENTIFIED:
            assert "401" not in statuses and operation["security"] == [{"HTTPBearer": []}], (method, path)
        else:
            assert "401" not in statuses or path == "/auth/login", (method, path)
            assert "security" not in operation, (method, path)
