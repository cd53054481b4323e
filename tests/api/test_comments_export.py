"""GET /comments/export (the UI's export button) and `threekcal export`: the filters of GET /comments,
streamed in keyset batches, CSV cells neutralised, admin only."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from threekcal.cli import app as cli
from threekcal.db.models import Comment
from threekcal.db.session import session_scope
from threekcal.settings import Settings, get_settings

START = datetime(2025, 5, 1, tzinfo=UTC)


def seed(url: str, n: int) -> list[int]:
    with session_scope(url) as session:
        rows = [
            Comment(
                comments="=1+1 formula" if i == 0 else f"text {i}",
                request_user=f"user{i % 2}",
                request_time=START + timedelta(hours=i),
                receipt=f"receipt-{i}",
                prediction_result="joy" if i % 3 else None,
                prediction_score=0.5 if i % 3 else None,
                label="fear" if i % 4 == 0 else None,
            )
            for i in range(n)
        ]
        session.add_all(rows)
        session.flush()
        return [row.num for row in rows]


@pytest.fixture
def small_batches(client: TestClient, settings: Settings) -> Iterator[None]:
    client.app.state.settings = settings.model_copy(update={"export_chunk_rows": 3})  # type: ignore[attr-defined]
    yield


def test_export_csv_with_filters_in_small_batches(
    client: TestClient, admin, db_url: str, small_batches
) -> None:
    nums = seed(db_url, 10)
    response = client.get(
        "/comments/export",
        params={"format": "csv", "request_user": "user0", "labeled": "false"},
        headers=admin,
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(response.text)))
    assert [int(row["num"]) for row in table] == [nums[i] for i in (2, 6)]  # 0, 4, 8 are labelled
    everyone = list(csv.DictReader(io.StringIO(client.get("/comments/export", headers=admin).text)))
    assert [int(row["num"]) for row in everyone] == nums
    assert everyone[0]["comments"] == "'=1+1 formula"  # the CSV injection rule of /export


def test_export_jsonl_is_exact_and_takes_the_list_sorts(
    client: TestClient, admin, db_url: str, small_batches
) -> None:
    nums = seed(db_url, 8)
    response = client.get(
        "/comments/export", params={"format": "jsonl", "sort": "newest", "predicted": "true"}, headers=admin
    )
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [line["num"] for line in lines] == [nums[i] for i in (7, 5, 4, 2, 1)]
    first = client.get("/comments/export", params={"format": "jsonl"}, headers=admin).text.splitlines()[0]
    assert json.loads(first)["comments"] == "=1+1 formula"


def test_export_needs_the_export_permission(client: TestClient, people, db_url: str) -> None:
    seed(db_url, 2)
    assert client.get("/comments/export").status_code == 401
    refused = client.get("/comments/export", headers=people.headers("ann"))
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Your role (annotator) may not do this (export)"
    assert (
        client.get(
            "/comments/export", params={"format": "xml"}, headers=people.headers("boss", "admin")
        ).status_code
        == 422
    )


def test_cli_export_writes_the_same_rows(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nums = seed(db_url, 7)
    monkeypatch.setenv("THREEKCAL_DATABASE_URL", db_url)
    monkeypatch.setenv("THREEKCAL_EXPORT_CHUNK_ROWS", "2")
    get_settings.cache_clear()
    try:
        out = tmp_path / "out.csv"
        result = CliRunner().invoke(cli, ["export", "--output", str(out), "--label", "fear"])
        assert result.exit_code == 0, result.output
        assert "2 comments exported" in result.stderr
        table = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
        assert [int(row["num"]) for row in table] == [nums[0], nums[4]]
        assert table[0]["comments"] == "'=1+1 formula"
        jsonl = CliRunner().invoke(cli, ["export", "--format", "jsonl", "--request-user", "user1"])
        assert [json.loads(line)["num"] for line in jsonl.stdout.splitlines()] == [nums[i] for i in (1, 3, 5)]
        bad = CliRunner().invoke(cli, ["export", "--label", "happy"])
        assert bad.exit_code == 2
        assert "--label must be one of anger, disgust" in bad.stderr
    finally:
        get_settings.cache_clear()
