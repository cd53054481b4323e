"""Idempotency-Key on POST /comments: a retry answers the original 201 and stores nothing new."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from threekcal.api.idempotency_pruning import Pruner
from threekcal.db.idempotency import prune_expired
from threekcal.db.models import IdempotencyKey
from threekcal.db.session import session_scope
from threekcal.db.types import utcnow

BODY = {"request_user": "minji", "comments": "오늘 정말 행복해요"}


def _keys(url: str) -> int:
    with session_scope(url) as session:
        return session.scalar(select(func.count()).select_from(IdempotencyKey)) or 0


def test_same_key_same_body_answers_the_original(client: TestClient, rows) -> None:
    key = str(uuid.uuid4())
    first = client.post("/comments", json=BODY, headers={"Idempotency-Key": key})
    again = client.post("/comments", json=BODY, headers={"Idempotency-Key": key})
    quoted = client.post("/comments", json=BODY, headers={"Idempotency-Key": f'"{key}"'})
    assert first.status_code == again.status_code == quoted.status_code == 201
    assert again.json() == first.json() == quoted.json()
    assert rows.comments() == 1
    other = client.post("/comments", json=BODY, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert other.status_code == 201 and other.json()["num"] != first.json()["num"]
    assert rows.comments() == 2


def test_replay_is_the_answer_as_first_given_even_after_a_prediction(client: TestClient, rows) -> None:
    key = "retry-me"
    first = client.post("/comments", json=BODY, headers={"Idempotency-Key": key}).json()
    rows.predict(first["num"], "joy", 0.9)
    again = client.post("/comments", json=BODY, headers={"Idempotency-Key": key}).json()
    assert again == first and again["prediction_result"] is None


def test_same_key_different_body_is_refused(client: TestClient, rows) -> None:
    key = str(uuid.uuid4())
    assert client.post("/comments", json=BODY, headers={"Idempotency-Key": key}).status_code == 201
    changed = client.post("/comments", json={**BODY, "comments": "other"}, headers={"Idempotency-Key": key})
    assert changed.status_code == 422
    assert changed.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert "different request" in changed.json()["detail"][0]["msg"]
    assert rows.comments() == 1


def test_keys_are_case_sensitive_and_checked(client: TestClient, rows) -> None:
    assert client.post("/comments", json=BODY, headers={"Idempotency-Key": "abc"}).status_code == 201
    assert client.post("/comments", json=BODY, headers={"Idempotency-Key": "ABC"}).status_code == 201
    assert rows.comments() == 2
    for bad in ["", "x" * 256, "a\x7fb"]:
        answer = client.post("/comments", json=BODY, headers={"Idempotency-Key": bad})
        assert answer.status_code == 422, bad
    assert rows.comments() == 2


def test_concurrent_tries_with_one_key_store_one_comment(client: TestClient, rows) -> None:
    key = str(uuid.uuid4())
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(
                lambda _: client.post("/comments", json=BODY, headers={"Idempotency-Key": key}), range(16)
            )
        )
    assert {answer.status_code for answer in answers} == {201}
    assert len({answer.json()["num"] for answer in answers}) == 1
    assert rows.comments() == 1


def test_expired_keys_are_pruned_and_may_be_used_again(client: TestClient, rows, db_url: str) -> None:
    key = str(uuid.uuid4())
    first = client.post("/comments", json=BODY, headers={"Idempotency-Key": key}).json()
    with session_scope(db_url) as session:
        session.execute(update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=25)))
    again = client.post("/comments", json=BODY, headers={"Idempotency-Key": key}).json()
    assert again["num"] != first["num"]  # older than 24 h: a new submission
    assert _keys(db_url) == 1
    with session_scope(db_url) as session:
        session.execute(update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=25)))
    with session_scope(db_url) as session:
        assert prune_expired(session, utcnow() - timedelta(hours=24)) == 1
    assert _keys(db_url) == 0
    assert rows.comments() == 2


def test_the_api_prunes_old_keys_itself(app, client: TestClient, db_url: str) -> None:
    client.post("/comments", json=BODY, headers={"Idempotency-Key": "old"})
    with session_scope(db_url) as session:
        session.execute(update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=30)))
    app.state.idempotency_pruner = Pruner(every_seconds=0)  # as if the interval had passed
    client.post("/comments", json=BODY, headers={"Idempotency-Key": "new"})
    assert _keys(db_url) == 1


def test_the_header_is_documented(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/comments"]["post"]
    headers = [p for p in operation["parameters"] if p["in"] == "header"]
    assert [p["name"] for p in headers] == ["Idempotency-Key"]
    assert "same num and receipt" in headers[0]["description"]
    assert "429" in operation["responses"]
