"""The audit queue (issue 10): GET /comments?sort=audit serves comments in a pseudo-random order of their
numbers (the same in SQL and Python, on SQLite and MariaDB), keyset-paged; a label given with
``audit: true`` puts the comment in the audit sample (comments.audit), clearing the label takes it out."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from threekcal.db.models import Comment
from threekcal.db.queries import AUDIT_MODULUS, audit_key
from threekcal.db.session import session_scope

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def seed(url: str, count: int) -> list[int]:
    """``count`` comments, predicted with a score that rises with the number (so least confident first
    and number order agree, and an audit order that followed either would show)."""
    with session_scope(url) as session:
        comments = [
            Comment(
                comments=f"text {i}",
                request_user=f"user{i % 2}",
                request_time=T0 + timedelta(minutes=i),
                receipt=f"audit-receipt-{i}",
                prediction_result="joy",
                prediction_score=0.2 + 0.7 * i / count,
                prediction_scores={"joy": 0.2 + 0.7 * i / count},
            )
            for i in range(count)
        ]
        session.add_all(comments)
        session.flush()
        return [comment.num for comment in comments]


def walk(client: TestClient, headers: dict[str, str], params: dict[str, object]) -> list[dict]:
    items: list[dict] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get("/comments", params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def test_audit_key_is_a_permutation_that_mixes_numbers() -> None:
    nums = range(1, 20_001)
    keys = [audit_key(num) for num in nums]
    assert len(set(keys)) == len(keys)  # no ties among 20,000 numbers
    assert all(0 <= key < 2**31 for key in keys)
    first = sorted(nums, key=audit_key)[:1000]
    # a uniform sample of 1..20000: about half below 10,000 and a mean near 10,000
    assert 400 < sum(num <= 10_000 for num in first) < 600
    assert 9_000 < sum(first) / len(first) < 11_000
    assert audit_key(AUDIT_MODULUS + 7) == audit_key(7)


def test_sort_audit_walks_every_comment_in_the_sql_order_python_computes(
    client: TestClient, admin, db_url: str
) -> None:
    nums = seed(db_url, 40)
    expected = sorted(nums, key=lambda num: (audit_key(num), num))
    assert expected != sorted(nums)
    walked = walk(client, admin, {"sort": "audit", "limit": 7})
    assert [item["num"] for item in walked] == expected
    assert all(item["audit"] is False for item in walked)
    # the same order within a filter, and a cursor carries [audit key, num]
    user0 = walk(client, admin, {"sort": "audit", "limit": 3, "request_user": "user0"})
    assert [item["num"] for item in user0] == [num for num in expected if (num - nums[0]) % 2 == 0]
    first = client.get("/comments", params={"sort": "audit", "limit": 1}, headers=admin).json()
    cursor = json.loads(base64.urlsafe_b64decode(first["next_cursor"] + "=="))
    assert cursor == [audit_key(expected[0]), expected[0]]


@pytest.mark.parametrize("cursor", [[5], ["5", 5], [0.5, 5], [5, -1], [True, 5]])
def test_an_audit_cursor_other_than_two_integers_is_400(client: TestClient, admin, cursor) -> None:
    raw = base64.urlsafe_b64encode(json.dumps(cursor).encode()).decode().rstrip("=")
    response = client.get("/comments", params={"sort": "audit", "cursor": raw}, headers=admin)
    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid cursor"}


def test_a_label_from_the_audit_queue_marks_the_comment_and_leaves_the_queue(
    client: TestClient, admin, db_url: str, rows, people
) -> None:
    nums = seed(db_url, 12)
    ana = people.headers("ana")
    queue = {"sort": "audit", "audit": False, "limit": 500, "with_total": True}
    served = client.get("/comments", params=queue, headers=ana).json()
    assert served["total"] == 12
    first, second = served["items"][0], served["items"][1]
    events_before = rows.events()

    answer = client.put(
        f"/comments/{first['num']}/label",
        json={"label": "anger", "audit": True},
        headers={**ana, "If-Match": first["etag"]},
    )
    assert answer.status_code == 200, answer.text
    assert (answer.json()["label"], answer.json()["audit"]) == ("anger", True)
    assert rows.events() == events_before + 1
    stored = rows.comment(first["num"])
    assert (stored.label, stored.audit, stored.labeled_by) == ("anger", True, "ana")

    # a label from anywhere else is not in the sample
    plain = client.put(f"/comments/{second['num']}/label", json={"label": "joy"}, headers=ana)
    assert plain.status_code == 200
    assert rows.comment(second["num"]).audit is False

    left = client.get("/comments", params=queue, headers=ana).json()
    assert left["total"] == 11
    assert first["num"] not in [item["num"] for item in left["items"]]
    sample = client.get("/comments", params={"audit": True, "with_total": True}, headers=admin).json()
    assert (sample["total"], [item["num"] for item in sample["items"]]) == (1, [first["num"]])

    # a later change keeps it in the sample; clearing the label or undoing back to none takes it out
    assert (
        client.put(f"/comments/{first['num']}/label", json={"label": "fear"}, headers=admin).status_code
        == 200
    )
    assert rows.comment(first["num"]).audit is True
    assert client.post("/labels/undo", json={"num": first["num"]}, headers=admin).status_code == 200
    assert (rows.comment(first["num"]).label, rows.comment(first["num"]).audit) == ("anger", True)
    undone = client.post("/labels/undo", json={"num": first["num"]}, headers=admin)
    assert undone.status_code == 200, undone.text
    assert (undone.json()["label"], undone.json()["audit"]) == (None, False)
    assert rows.comment(first["num"]).audit is False
    assert len(nums) == 12


def test_an_accepted_prediction_from_the_audit_queue_is_in_the_sample(
    client: TestClient, admin, db_url: str, rows
) -> None:
    (num,) = seed(db_url, 1)
    answer = client.put(
        f"/comments/{num}/label", json={"label": "joy", "source": "accepted", "audit": True}, headers=admin
    )
    assert answer.status_code == 200, answer.text
    stored = rows.comment(num)
    assert (stored.label, stored.label_source, stored.audit) == ("joy", "accepted", True)


def test_a_refused_audit_label_stores_nothing(client: TestClient, admin, db_url: str, rows) -> None:
    (num,) = seed(db_url, 1)
    events = rows.events()
    stale = client.put(
        f"/comments/{num}/label",
        json={"label": "fear", "audit": True},
        headers={**admin, "If-Match": f'"{num}-9"'},
    )
    assert stale.status_code == 412
    wrong = client.put(
        f"/comments/{num}/label", json={"label": "fear", "source": "accepted", "audit": True}, headers=admin
    )
    assert wrong.status_code == 409
    assert wrong.json() == {
        "detail": f"Comment {num}'s prediction is joy, so fear cannot be recorded as an accepted prediction"
    }
    bad = client.put(f"/comments/{num}/label", json={"label": "fear", "audit": "maybe"}, headers=admin)
    assert bad.status_code == 422
    assert rows.events() == events
    with session_scope(rows.url) as session:
        assert session.scalars(select(Comment.audit)).all() == [False]
