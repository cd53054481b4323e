"""Hardening: bad Unicode and names, CSV formula injection, bounded waits on a locked database, an answer
deadline, public docs that production can turn off."""

from __future__ import annotations

import csv
import io
import json
import threading
import time

import pytest
from db_locks import TableLock
from fastapi.testclient import TestClient
from sqlalchemy import insert

from threekcal.api import create_app
from threekcal.api.errors import DATABASE_UNAVAILABLE
from threekcal.db.models import Comment
from threekcal.db.session import engine_for
from threekcal.db.types import utcnow
from threekcal.settings import Settings

HEADROOM = 5.0  # a behaviour bound, not a benchmark: the answer comes, with room for a slow machine


def _post_raw(client: TestClient, raw: bytes):
    return client.post("/comments", content=raw, headers={"content-type": "application/json"})


@pytest.mark.parametrize("field", ["request_user", "comments"])
def test_lone_surrogates_are_422_naming_the_field(client: TestClient, rows, field: str) -> None:
    body = {"request_user": "kim", "comments": "hello"}
    raw = json.dumps(body).replace('"kim"' if field == "request_user" else '"hello"', '"x \\ud800"')
    answer = _post_raw(client, raw.encode())
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["body", field]
    assert "not valid Unicode" in answer.json()["detail"][0]["msg"]
    assert rows.comments() == 0


def test_lone_surrogate_in_a_remark_is_422(client: TestClient, admin, rows) -> None:
    num = client.post("/comments", json={"request_user": "kim", "comments": "hello"}).json()["num"]
    answer = client.put(
        f"/comments/{num}/label",
        content=b'{"label": "joy", "remark": "ok \\udfff"}',
        headers={**admin, "content-type": "application/json"},
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "remark"]
    assert rows.comment(num).label is None


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"request_user": "kim", "comments": "caf\xe9 \xff"}', "comments"),
        (b'{"request_user": "k\xc3\x28im", "comments": "hello"}', "request_user"),
    ],
)
def test_invalid_utf8_is_422_naming_the_field(client: TestClient, rows, raw: bytes, field: str) -> None:
    answer = _post_raw(client, raw)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["body", field]
    assert rows.comments() == 0


def test_invalid_utf8_outside_a_string_is_malformed_json(client: TestClient, rows) -> None:
    answer = _post_raw(client, b'{"request_user": "kim", "comments": "x"}\xff')
    assert answer.status_code == 400
    assert rows.comments() == 0


@pytest.mark.parametrize(
    "name",
    [
        "evil\u202egnp.exe",  # right-to-left override
        "ad\u200bmin",  # zero-width space
        "a\u2066b",  # bidi isolate
        "x\ufeff",  # zero-width no-break space
        "un\U000e0001",  # language tag (format)
        "ab\U0010fffe",  # unassigned (noncharacter)
        "a\u0378b",  # unassigned
        "a\u2028b",  # line separator
    ],
)
def test_usernames_refuse_invisible_and_unassigned_characters(client: TestClient, rows, name: str) -> None:
    answer = client.post("/comments", json={"request_user": name, "comments": "hello"})
    assert answer.status_code == 422, name
    assert answer.json()["detail"][0]["loc"] == ["body", "request_user"]
    assert rows.comments() == 0


def test_usernames_are_nfc_normalised(client: TestClient) -> None:
    decomposed = "Jose\u0301 김민지"  # e + combining acute
    answer = client.post("/comments", json={"request_user": decomposed, "comments": "hola"})
    assert answer.status_code == 201
    assert answer.json()["request_user"] == "José 김민지"


def test_the_web_app_applies_the_same_rules() -> None:
    from threekcal.ui.logic import validate_submission

    assert validate_submission("evil\u202ename", "hi") == [("err_user_invisible", {})]
    assert validate_submission("kim", "x \ud800") == [("err_comment_control", {})]
    assert validate_submission("Jose\u0301", "hi") == []


FORMULAS = ["=1+1", "+1", "-2+3", "@SUM(A1)", '=HYPERLINK("http://x","y")']


def test_csv_export_neutralises_formulas_and_jsonl_stays_exact(client: TestClient, admin, db_url) -> None:
    stored = [*FORMULAS, "\t=1+1", "\r=1+1", "plain - text", "'quoted"]
    with engine_for(db_url).begin() as connection:  # as old or imported data may hold them
        connection.execute(
            insert(Comment),
            [
                {"comments": value, "request_user": "=cmd|' /C calc'!A0", "request_time": utcnow(),
                 "receipt": f"r{i}", "remark": "@remark"}
                for i, value in enumerate(stored)
            ],
        )  # fmt: skip
    exported = client.get("/export", params={"format": "csv"}, headers=admin)
    assert exported.status_code == 200
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert [row["comments"] for row in table] == [
        "'=1+1", "'+1", "'-2+3", "'@SUM(A1)", "'=HYPERLINK(\"http://x\",\"y\")",
        "'\t=1+1", "'\r=1+1", "plain - text", "'quoted",
    ]  # fmt: skip
    assert {row["request_user"] for row in table} == {"'=cmd|' /C calc'!A0"}
    assert {row["remark"] for row in table} == {"'@remark"}
    lines = client.get("/export", params={"format": "jsonl"}, headers=admin).text.splitlines()
    assert [json.loads(line)["comments"] for line in lines] == stored


def test_a_formula_submitted_through_the_api_is_neutralised_too(client: TestClient, admin) -> None:
    client.post("/comments", json={"request_user": "-kim", "comments": "=1+1"})
    table = list(csv.DictReader(io.StringIO(client.get("/export", headers=admin).text)))
    assert (table[0]["request_user"], table[0]["comments"]) == ("'-kim", "'=1+1")


def test_a_locked_database_answers_503_within_the_timeout(settings: Settings, rows) -> None:
    timeout = 1.0
    app = create_app(settings.model_copy(update={"db_timeout": timeout}))
    with TestClient(app) as client, TableLock(settings.database_url):
        for key in (None, "k-1"):
            started = time.monotonic()
            answer = client.post(
                "/comments",
                json={"request_user": "kim", "comments": "stuck?"},
                headers={"Idempotency-Key": key} if key else {},
            )
            elapsed = time.monotonic() - started
            assert answer.status_code == 503, answer.text
            assert answer.json() == {"detail": DATABASE_UNAVAILABLE}
            assert answer.headers["Retry-After"] == "5"
            assert elapsed < timeout + HEADROOM
    with TestClient(app) as client:  # the lock is gone: the same key stores the comment once
        answer = client.post(
            "/comments",
            json={"request_user": "kim", "comments": "stuck?"},
            headers={"Idempotency-Key": "k-1"},
        )
        assert answer.status_code == 201
    assert rows.comments() == 1


def test_an_answer_that_does_not_start_in_time_is_503(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"db_timeout": 0.5}))
    release = threading.Event()

    @app.get("/test-stuck")
    def stuck() -> dict[str, str]:  # stands for a driver call that hangs
        release.wait(10)
        return {"late": "yes"}

    with TestClient(app) as client:
        started = time.monotonic()
        answer = client.get("/test-stuck")
        assert time.monotonic() - started < 0.5 + HEADROOM
        release.set()
        assert answer.status_code == 503
        assert answer.json() == {"detail": DATABASE_UNAVAILABLE}
        assert answer.headers["Retry-After"] == "5"
        assert client.get("/health").status_code == 200  # the next requests are served as usual


@pytest.mark.parametrize(("env", "public"), [("production", None), ("test", False)])
def test_docs_can_be_turned_off(settings: Settings, env: str, public: bool | None) -> None:
    hidden = settings.model_copy(update={"env": env, "public_docs": public, "admin_token": "p" * 40})
    with TestClient(create_app(hidden)) as client:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert client.get(path).status_code == 404, path
        assert client.get("/health").status_code == 200


def test_docs_are_public_by_default_outside_production(client: TestClient) -> None:
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert client.get(path).status_code == 200, path
