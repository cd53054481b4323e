"""POST /comments and the receipt look-up: what is stored, what is refused (and then nothing is stored)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect

from threekcal.db.session import engine_for


def submit(client: TestClient, user: str = "alice", text: str = "I love this") -> dict:
    response = client.post("/comments", json={"request_user": user, "comments": text})
    assert response.status_code == 201, response.text
    return response.json()


def test_submit_stores_one_row_and_returns_a_receipt(client: TestClient, rows) -> None:
    before = datetime.now(UTC)
    body = submit(client, "  alice  ", "  I love this  ")
    assert rows.comments() == 1
    assert body["request_user"] == "alice"
    assert body["comments"] == "I love this"
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", body["receipt"])
    assert (
        body["prediction_result"] is None and body["reviewed"] is False and body["prediction_scores"] is None
    )
    assert "label" not in body and "remark" not in body and "labeled_by" not in body
    request_time = datetime.fromisoformat(body["request_time"].replace("Z", "+00:00"))
    assert request_time.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= request_time <= datetime.now(UTC) + timedelta(seconds=1)
    stored = rows.comment(body["num"])
    assert (stored.request_user, stored.comments, stored.receipt) == ("alice", "I love this", body["receipt"])


def test_receipts_differ_and_find_their_comment(client: TestClient) -> None:
    first, second = submit(client, text="one"), submit(client, text="two")
    assert first["receipt"] != second["receipt"]
    found = client.get(f"/comments/by-receipt/{second['receipt']}")
    assert found.status_code == 200
    assert found.json()["num"] == second["num"] and found.json()["comments"] == "two"
    assert "receipt" not in found.json()


def test_unknown_receipt_is_404(client: TestClient) -> None:
    response = client.get("/comments/by-receipt/not-a-receipt")
    assert response.status_code == 404
    assert response.json() == {"detail": "No comment with this receipt"}


@pytest.mark.parametrize(
    "text",
    [
        "오늘 정말 행복해요 😀🎉",
        "👩‍👩‍👧‍👦 family, 🇰🇷 flag, 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
        "line one\nline two\ttabbed",
        "é" * 2000,
    ],
)
def test_unicode_round_trips(client: TestClient, rows, text: str) -> None:
    body = submit(client, "사용자😀", text)
    assert body["comments"] == text and body["request_user"] == "사용자😀"
    again = client.get(f"/comments/by-receipt/{body['receipt']}").json()
    assert again["comments"] == text and again["request_user"] == "사용자😀"
    assert rows.comment(body["num"]).comments == text


@pytest.mark.parametrize(
    "text",
    [
        "'); DROP TABLE comments; --",
        "1 OR 1=1; DELETE FROM comments WHERE '1'='1",
        "<script>alert('x')</script><img src=x onerror=alert(1)>",
        "100% of_the %s and \\ backslash _ underscore",
    ],
)
def test_sql_and_html_are_stored_as_text(client: TestClient, rows, db_url: str, text: str) -> None:
    submit(client, text="before")
    body = submit(client, "<b>bob</b>", text)
    assert body["comments"] == text and body["request_user"] == "<b>bob</b>"
    assert rows.comment(body["num"]).comments == text
    assert rows.comments() == 2
    assert "comments" in inspect(engine_for(db_url)).get_table_names()


def _error(response) -> tuple[int, list[tuple[tuple, str]]]:
    return response.status_code, [(tuple(e["loc"]), e["msg"]) for e in response.json()["detail"]]


@pytest.mark.parametrize(
    ("payload", "loc", "message"),
    [
        (
            {"request_user": "alice", "comments": ""},
            ("body", "comments"),
            "comments must not be empty or whitespace only",
        ),
        (
            {"request_user": "alice", "comments": " \t\n\u3000 "},
            ("body", "comments"),
            "comments must not be empty or whitespace only",
        ),
        (
            {"request_user": "alice", "comments": "x" * 2001},
            ("body", "comments"),
            "comments is too long: 2001 characters after trimming spaces, the limit is 2000",
        ),
        (
            {"request_user": "alice", "comments": "bad\x00byte"},
            ("body", "comments"),
            "comments must not contain control characters other than tab and line breaks",
        ),
        (
            {"request_user": "", "comments": "hi"},
            ("body", "request_user"),
            "request_user must not be empty or whitespace only",
        ),
        (
            {"request_user": "u" * 65, "comments": "hi"},
            ("body", "request_user"),
            "request_user is too long: 65 characters, the limit is 64",
        ),
        (
            {"request_user": "ali\nce", "comments": "hi"},
            ("body", "request_user"),
            "request_user must not contain control characters",
        ),
        (
            {"request_user": "ali\x1bce", "comments": "hi"},
            ("body", "request_user"),
            "request_user must not contain control characters",
        ),
        ({"request_user": "alice"}, ("body", "comments"), "Field required"),
        ({"request_user": 5, "comments": "hi"}, ("body", "request_user"), "Input should be a valid string"),
        (
            {"request_user": "alice", "comments": ["hi"]},
            ("body", "comments"),
            "Input should be a valid string",
        ),
    ],
)
def test_invalid_submissions_are_422_and_store_nothing(
    client: TestClient, rows, payload: dict, loc: tuple, message: str
) -> None:
    response = client.post("/comments", json=payload)
    assert _error(response) == (422, [(loc, message)])
    assert rows.comments() == 0


def test_limits_are_inclusive(client: TestClient) -> None:
    body = submit(client, "u" * 64, "  " + "x" * 2000 + "  ")
    assert len(body["comments"]) == 2000 and len(body["request_user"]) == 64


def test_body_that_is_not_an_object_is_422(client: TestClient, rows) -> None:
    response = client.post("/comments", json=["alice", "hi"])
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body"]
    assert rows.comments() == 0


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            b'{"request_user": "alice", "comments": "hi"',
            "Malformed JSON body: Expecting ',' delimiter at character 42",
        ),
        (
            b"{'request_user': 'alice'}",
            "Malformed JSON body: Expecting property name enclosed in double quotes at character 1",
        ),
        (b"not json at all", "Malformed JSON body: Expecting value at character 0"),
    ],
)
def test_malformed_json_is_400_and_stores_nothing(client: TestClient, rows, raw: bytes, message: str) -> None:
    response = client.post("/comments", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json() == {"detail": message}
    assert rows.comments() == 0


def test_body_over_the_limit_is_413_and_stores_nothing(client: TestClient, rows, settings) -> None:
    payload = b'{"request_user": "alice", "comments": "' + b"x" * settings.max_body_bytes + b'"}'
    response = client.post("/comments", content=payload, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {"detail": f"Request body too large: limit is {settings.max_body_bytes} bytes"}
    assert rows.comments() == 0
