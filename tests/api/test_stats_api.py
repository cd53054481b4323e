"""GET /stats over HTTP: shape, user filter, and a cache that never serves figures older than the data."""

from __future__ import annotations

from fastapi.testclient import TestClient

from threekcal.emotions import LABELS


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


def test_stats_for_one_user(client: TestClient, admin, rows) -> None:
    submit(client, "kim", "one")
    submit(client, "kim", "two")
    submit(client, "lee", "three")
    body = client.get("/stats", params={"request_user": "kim"}, headers=admin).json()
    assert body["counts"]["total"] == 2
    assert [u["request_user"] for u in body["per_user"]] == ["kim"]
    assert client.get("/stats", params={"request_user": "nobody"}).json()["counts"]["total"] == 0
    assert client.get("/stats", params={"request_user": "x" * 65}).status_code == 422
