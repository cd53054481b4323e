"""GET /stats over HTTP: shape, user filter, a cache that serves figures at most
THREEKCAL_STATS_MAX_STALENESS seconds old (0 here: never older than the data) and recomputes at most
once per that interval under a write flood, and unknown user names that evict nothing."""

from __future__ import annotations

import secrets
import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from threekcal.api import create_app
from threekcal.db import stats
from threekcal.emotions import LABELS
from threekcal.settings import Settings


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings.model_copy(update={"stats_max_staleness": 0.0}))


@pytest.fixture
def computations(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """Records each time the statistics are really computed (and for which user filter)."""
    calls: list[str | None] = []
    real = stats.stats_from_aggregates

    def counted(session, scope=stats.ALL):
        calls.append(scope.request_user)
        return real(session, scope)

    monkeypatch.setattr(stats, "stats_from_aggregates", counted)
    return calls


def submit(client: TestClient, user: str, text: str) -> int:
    return client.post("/comments", json={"request_user": user, "comments": text}).json()["num"]


def test_stats_follow_every_change(client: TestClient, admin, rows) -> None:
    empty = client.get("/stats")
    assert empty.status_code == 200
    assert empty.json()["counts"]["total"] == 0 and empty.json()["accuracy"] is None

    a, b = submit(client, "kim", "good"), submit(client, "lee", "bad")
    after_submit = client.get("/stats").json()
    assert after_submit["counts"] == {
        "total": 2, "pending": 2, "predicted": 0, "labeled": 0, "labeled_and_predicted": 0, "scored": 0,
        "by_label_source": {},
    }  # fmt: skip

    rows.predict(a, "joy", 0.9, {"joy": 0.9, "anger": 0.1})
    rows.predict(b, "joy", 0.6, {"joy": 0.6, "anger": 0.4})
    after_predict = client.get("/stats").json()
    assert after_predict["counts"]["predicted"] == 2
    assert after_predict["score_histogram"]["counts"]["joy"][18] == 1

    client.put(f"/comments/{a}/label", json={"label": "joy"}, headers=admin)
    client.put(f"/comments/{b}/label", json={"label": "anger"}, headers=admin)
    labelled = client.get("/stats").json()
    assert labelled["accuracy"] == 0.5
    assert labelled["labels"] == list(LABELS)
    assert labelled["confusion_matrix"][LABELS.index("anger")][LABELS.index("joy")] == 1
    assert labelled["curves"]["anger"]["roc"]["auc"] == 1.0
    assert labelled["per_user"] == []  # public: no usernames
    per_user = client.get("/stats", headers=admin).json()["per_user"]
    assert [(u["request_user"], u["correct"], u["accuracy"]) for u in per_user] == [
        ("kim", 1, 1.0),
        ("lee", 0, 0.0),
    ]
    assert client.get("/stats").json()["generated_at"] == labelled["generated_at"]  # unchanged data: cached

    client.post("/labels/undo", json={"num": b}, headers=admin)
    assert client.get("/stats").json()["counts"]["labeled"] == 1


def test_per_user_rows_count_the_scored_comments(client: TestClient, admin, rows) -> None:
    """``scored`` is the n of a user's accuracy: labelled and predicted, not labelled alone."""
    right, unpredicted, unlabelled = (submit(client, "kim", text) for text in ("one", "two", "three"))
    wrong = submit(client, "lee", "four")
    for num in (right, unlabelled, wrong):
        rows.predict(num, "joy", 0.8, {"joy": 0.8, "anger": 0.2})
    client.put(f"/comments/{right}/label", json={"label": "joy"}, headers=admin)
    client.put(f"/comments/{unpredicted}/label", json={"label": "fear"}, headers=admin)
    client.put(f"/comments/{wrong}/label", json={"label": "anger"}, headers=admin)

    body = client.get("/stats", headers=admin).json()
    assert body["per_user"] == [
        {"request_user": "kim", "total": 3, "labeled": 2, "scored": 1, "correct": 1, "accuracy": 1.0},
        {"request_user": "lee", "total": 1, "labeled": 1, "scored": 1, "correct": 0, "accuracy": 0.0},
    ]
    assert sum(user["scored"] for user in body["per_user"]) == body["counts"]["labeled_and_predicted"] == 2
    client.post("/labels/undo", json={"num": right}, headers=admin)
    kim = client.get("/stats", params={"request_user": "kim"}, headers=admin).json()["per_user"]
    assert kim == [
        {"request_user": "kim", "total": 3, "labeled": 1, "scored": 0, "correct": 0, "accuracy": None}
    ]


def test_stats_for_one_user(client: TestClient, admin, rows) -> None:
    submit(client, "kim", "one")
    submit(client, "kim", "two")
    submit(client, "lee", "three")
    body = client.get("/stats", params={"request_user": "kim"}, headers=admin).json()
    assert body["counts"]["total"] == 2
    assert [u["request_user"] for u in body["per_user"]] == ["kim"]
    assert client.get("/stats", params={"request_user": "nobody"}).json()["counts"]["total"] == 0
    assert client.get("/stats", params={"request_user": "x" * 65}).status_code == 422


def test_a_write_flood_recomputes_at_most_once_per_interval(settings: Settings, computations) -> None:
    interval = 0.5
    # The flood lasts a fixed time: a fast CPU sends over 300 comments a second, over any default limit.
    unlimited = {"submit_rate_limit": "100000/minute", "submit_ip_rate_limit": "100000/minute"}
    app = create_app(settings.model_copy(update={"stats_max_staleness": interval, **unlimited}))
    with TestClient(app) as client:
        first = client.get("/stats")
        assert first.json()["counts"]["total"] == 0 and first.json()["age_seconds"] < interval
        submit(client, "kim", "one")
        cached = client.get("/stats")
        assert cached.json()["counts"]["total"] == 0  # served from the cache, and it says how old it is
        assert cached.json()["generated_at"] == first.json()["generated_at"]
        assert 0 <= cached.json()["age_seconds"] < interval + 1
        assert int(cached.headers["Age"]) >= 0
        started = time.monotonic()
        answers = 0
        while time.monotonic() - started < 3 * interval:
            submit(client, "kim", "more")
            client.get("/stats")
            answers += 1
        elapsed = time.monotonic() - started
        time.sleep(interval)
        assert client.get("/stats").json()["counts"]["total"] == answers + 1  # caught up
    assert answers > 4
    assert len(computations) <= elapsed / interval + 3


def test_unknown_user_names_do_not_evict_the_cache(settings: Settings, computations) -> None:
    app = create_app(settings.model_copy(update={"stats_max_staleness": 600.0}))
    with TestClient(app) as client:
        submit(client, "kim", "hello")
        client.get("/stats")
        client.get("/stats", params={"request_user": "kim"})
        assert computations == [None, "kim"]
        for _ in range(100):
            nobody = client.get("/stats", params={"request_user": secrets.token_hex(8)}).json()
            assert nobody["counts"]["total"] == 0 and nobody["per_user"] == []
        assert len(computations) <= 3  # names without comments share one result
        computations.clear()
        assert client.get("/stats").json()["counts"]["total"] == 1
        assert client.get("/stats", params={"request_user": "kim"}).json()["counts"]["total"] == 1
        assert computations == []
        submit(client, "lee", "new here")  # a name that gets comments is no longer "nobody"
        assert client.get("/stats", params={"request_user": "lee"}).json()["counts"]["total"] == 1


def test_daily_stats_in_the_viewers_time_zone(client: TestClient, admin, rows) -> None:
    a = submit(client, "kim", "good")
    rows.predict(a, "joy", 0.9, {"joy": 0.9, "anger": 0.1})
    client.put(f"/comments/{a}/label", json={"label": "joy"}, headers=admin)
    daily = client.get("/stats/daily", params={"tz": "Asia/Seoul"})
    assert daily.status_code == 200, daily.text
    body = daily.json()
    assert body["tz"] == "Asia/Seoul"
    [day] = body["days"]
    assert (day["total"], day["labeled"], day["scored"], day["correct"], day["accuracy"]) == (1, 1, 1, 1, 1.0)
    assert day["by_prediction"] == {"joy": 1}
    whole = client.get("/stats", params={"tz": "Asia/Seoul"}).json()
    assert whole["tz"] == "Asia/Seoul" and whole["timeline"][0]["day"] == day["day"]
    assert whole["audit"] == {"n": 0, "correct": 0, "accuracy": None, "ci_low": None, "ci_high": None,
                              "confidence": 0.95, "method": "wilson"}  # fmt: skip
    assert whole["unsupported_labels"] == [label for label in LABELS if label != "joy"]
    for path in ("/stats", "/stats/daily"):
        wrong = client.get(path, params={"tz": "Mars/Olympus"})
        assert wrong.status_code == 422
        assert wrong.json()["detail"][0]["msg"] == "Unknown time zone: Mars/Olympus"
