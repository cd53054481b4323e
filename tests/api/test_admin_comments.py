"""Admin browsing: auth, filters, keyset pages for every sort, single comment, users, export."""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from threekcal.api.auth import CREDENTIALS_REQUIRED, TOKEN_INVALID
from threekcal.db.models import Comment
from threekcal.db.session import session_scope

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def seed(url: str, count: int = 30) -> list[int]:
    """Comments with known users, times, predictions, scores (ties and NULLs included), labels."""
    with session_scope(url) as session:
        comments = []
        for i in range(count):
            predicted = i % 5 != 4
            comments.append(
                Comment(
                    comments=f"text {i} {'happy' if i % 3 == 0 else 'plain'} 100%_off",
                    request_user=f"user{i % 3}",
                    request_time=T0 + timedelta(hours=i),
                    receipt=f"receipt-{i}",
                    prediction_result=("joy", "anger", "neutral")[i % 3] if predicted else None,
                    prediction_score=round(0.3 + (i % 7) * 0.1, 2) if predicted else None,
                    prediction_scores={"joy": 0.5} if predicted else None,
                    label="joy" if i % 4 == 0 else None,
                )
            )
        session.add_all(comments)
        session.flush()
        return [c.num for c in comments]


ADMIN_ROUTES = [
    ("GET", "/comments", None),
    ("GET", "/comments/1", None),
    ("GET", "/comments/1/history", None),
    ("PUT", "/comments/1/label", {"label": "joy"}),
    ("POST", "/labels/accept", {"nums": [1]}),
    ("POST", "/labels/undo", {"num": 1}),
    ("GET", "/users", None),
    ("GET", "/export", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
def test_admin_routes_need_a_valid_token(client: TestClient, rows, method: str, path: str, body) -> None:
    missing = client.request(method, path, json=body)
    assert missing.status_code == 401
    assert missing.json() == {"detail": CREDENTIALS_REQUIRED}
    assert missing.headers["www-authenticate"] == "Bearer"
    basic = client.request(method, path, json=body, headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
    assert basic.status_code == 401
    wrong = client.request(
        method, path, json=body, headers={"Authorization": "Bearer wrong-token-0123456789"}
    )
    assert wrong.status_code == 401
    assert wrong.json() == {"detail": TOKEN_INVALID}
    non_ascii = client.request(
        method, path, json=body, headers={"Authorization": "Bearer t\xf6ken".encode("latin-1")}
    )
    assert non_ascii.status_code == 401
    assert rows.events() == 0


def test_list_newest_first_with_total(client: TestClient, admin, db_url: str) -> None:
    nums = seed(db_url, 12)
    body = client.get("/comments", params={"limit": 5, "with_total": True}, headers=admin).json()
    assert [item["num"] for item in body["items"]] == sorted(nums, reverse=True)[:5]
    assert body["total"] == 12 and body["next_cursor"]
    assert "total" not in client.get("/comments", headers=admin).json() or (
        client.get("/comments", headers=admin).json()["total"] is None
    )


def _walk(client: TestClient, admin, params: dict) -> list[dict]:
    items, cursor, pages = [], None, 0
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get("/comments", params=query, headers=admin)
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items
        assert pages < 100


@pytest.mark.parametrize("limit", [1, 4, 7, 500])
def test_keyset_pages_cover_every_row_once_in_order(
    client: TestClient, admin, db_url: str, limit: int
) -> None:
    nums = seed(db_url, 30)
    newest = _walk(client, admin, {"limit": limit, "sort": "newest"})
    assert [c["num"] for c in newest] == sorted(nums, reverse=True)
    oldest = _walk(client, admin, {"limit": limit, "sort": "oldest"})
    assert [c["num"] for c in oldest] == sorted(nums)
    least = _walk(client, admin, {"limit": limit, "sort": "least_confident"})
    expected = sorted(
        (c for c in oldest),
        key=lambda c: (c["prediction_score"] is None, c["prediction_score"] or 0, c["num"]),
    )
    assert [c["num"] for c in least] == [c["num"] for c in expected]
    assert least[-1]["prediction_score"] is None and least[0]["prediction_score"] == 0.3


def test_pages_follow_filters(client: TestClient, admin, db_url: str) -> None:
    seed(db_url, 30)
    items = _walk(
        client, admin, {"limit": 2, "sort": "least_confident", "request_user": "user1", "predicted": True}
    )
    assert items and all(c["request_user"] == "user1" and c["prediction_result"] for c in items)
    assert len(items) == sum(1 for i in range(30) if i % 3 == 1 and i % 5 != 4)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"request_user": "user2"}, [i for i in range(30) if i % 3 == 2]),
        ({"labeled": True}, [i for i in range(30) if i % 4 == 0]),
        ({"labeled": False}, [i for i in range(30) if i % 4 != 0]),
        ({"predicted": False}, [i for i in range(30) if i % 5 == 4]),
        ({"prediction_result": "anger"}, [i for i in range(30) if i % 3 == 1 and i % 5 != 4]),
        ({"label": "joy"}, [i for i in range(30) if i % 4 == 0]),
        ({"min_score": 0.8}, [i for i in range(30) if i % 5 != 4 and i % 7 >= 5]),
        ({"max_score": 0.3}, [i for i in range(30) if i % 5 != 4 and i % 7 == 0]),
        ({"q": "happy"}, [i for i in range(30) if i % 3 == 0]),
        ({"q": "100%_"}, list(range(30))),
        ({"q": "%"}, list(range(30))),
        ({"q": "0%_off"}, list(range(30))),
        ({"q": "_o"}, list(range(30))),
        ({"q": "x%y"}, []),
        ({"since": "2026-01-01T15:00:00Z", "until": "2026-01-01T18:00:00+00:00"}, [3, 4, 5]),
        ({"since": "2026-01-01T20:00:00+05:00", "until": "2026-01-01T17:00:00"}, [3, 4]),
    ],
)
def test_filters(client: TestClient, admin, db_url: str, params: dict, expected: list[int]) -> None:
    nums = seed(db_url, 30)
    body = client.get("/comments", params={**params, "limit": 500, "with_total": True}, headers=admin).json()
    assert sorted(c["num"] for c in body["items"]) == sorted(nums[i] for i in expected)
    assert body["total"] == len(expected)


def _cursor(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("sort", "cursor"),
    [
        ("newest", "not base64 !!"),
        ("newest", "e30"),  # {}
        ("newest", _cursor([0.5, 3])),
        ("newest", _cursor(["3"])),
        ("newest", _cursor([True])),
        ("newest", _cursor([-1])),
        ("oldest", _cursor([2**63])),
        ("least_confident", _cursor([5])),
        ("least_confident", _cursor(["x", 5])),
        ("least_confident", _cursor([0.5, 5.5])),
        ("least_confident", base64.urlsafe_b64encode(b"[NaN, 5]").decode()),
        ("least_confident", base64.urlsafe_b64encode(b"\xff\xfe").decode()),
    ],
)
def test_invalid_cursor_is_400(client: TestClient, admin, sort: str, cursor: str) -> None:
    response = client.get("/comments", params={"sort": sort, "cursor": cursor}, headers=admin)
    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid cursor"}


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 501},
        {"sort": "random"},
        {"label": "happy"},
        {"min_score": "nan"},
        {"max_score": 1.5},
        {"since": "yesterday"},
        {"q": "x" * 201},
        {"request_user": "u" * 65},
    ],
)
def test_invalid_list_parameters_are_422(client: TestClient, admin, params: dict) -> None:
    response = client.get("/comments", params=params, headers=admin)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "query"


def test_out_of_range_time_is_422(client: TestClient, admin) -> None:
    response = client.get("/comments", params={"since": "0001-01-01T00:00:00+05:00"}, headers=admin)
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == "date is out of range in UTC"


def test_get_one_and_404(client: TestClient, admin, db_url: str) -> None:
    nums = seed(db_url, 3)
    body = client.get(f"/comments/{nums[1]}", headers=admin).json()
    assert body["num"] == nums[1] and body["request_user"] == "user1"
    assert body["prediction_scores"] == {"joy": 0.5} and body["prediction_result"] == "anger"
    missing = max(nums) + 100
    response = client.get(f"/comments/{missing}", headers=admin)
    assert response.status_code == 404
    assert response.json() == {"detail": f"Comment {missing} not found"}
    assert client.get("/comments/0", headers=admin).status_code == 422
    assert client.get(f"/comments/{2**63}", headers=admin).status_code == 422


def test_users_by_count(client: TestClient, admin, db_url: str) -> None:
    seed(db_url, 10)  # user0: 0,3,6,9  user1: 1,4,7  user2: 2,5,8
    body = client.get("/users", headers=admin).json()
    assert [u["request_user"] for u in body] == ["user0", "user1", "user2"]
    user0 = body[0]
    # user0 has 0, 3, 6, 9: 9 has no prediction, only 0 has a label
    assert (user0["comments"], user0["predicted"], user0["labeled"]) == (4, 3, 1)
    assert datetime.fromisoformat(user0["last_request_time"].replace("Z", "+00:00")) == T0 + timedelta(
        hours=9
    )
    assert [u["request_user"] for u in client.get("/users", params={"q": "r2"}, headers=admin).json()] == [
        "user2"
    ]
    assert len(client.get("/users", params={"limit": 1}, headers=admin).json()) == 1
    assert client.get("/users", params={"q": "%"}, headers=admin).json() == []


def test_export_csv_streams_filtered_rows(client: TestClient, admin, db_url: str) -> None:
    nums = seed(db_url, 12)
    with session_scope(db_url) as session:
        session.get(Comment, nums[0]).comments = '한국어, "quoted", 😀\nsecond line'
    response = client.get("/export", params={"format": "csv", "request_user": "user0"}, headers=admin)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith('attachment; filename="threekcal-comments-')
    table = list(csv.DictReader(io.StringIO(response.text)))
    assert [int(r["num"]) for r in table] == [nums[i] for i in (0, 3, 6, 9)]
    assert table[0]["comments"] == '한국어, "quoted", 😀\nsecond line'
    assert json.loads(table[0]["prediction_scores"]) == {"joy": 0.5}
    assert table[0]["label"] == "joy" and table[1]["label"] == ""


def test_export_jsonl_every_row_in_batches(client: TestClient, admin, db_url: str, settings) -> None:
    from threekcal.api.routes import export

    client.app.state.settings = settings.model_copy(update={"export_chunk_rows": 4})
    nums = seed(db_url, 11)
    response = client.get("/export", params={"format": "jsonl", "sort": "newest"}, headers=admin)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [line["num"] for line in lines] == sorted(nums, reverse=True)
    empty = client.get("/export", params={"format": "csv", "label": "fear"}, headers=admin)
    assert empty.text.splitlines() == [",".join(export.COLUMNS)]
