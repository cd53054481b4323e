"""Labelling: set/clear, accept predictions, undo, history; every change audited in the same transaction."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


def submit(client: TestClient, text: str = "text") -> int:
    return client.post("/comments", json={"request_user": "alice", "comments": text}).json()["num"]


def label(client: TestClient, headers, num: int, body: dict):
    return client.put(f"/comments/{num}/label", json=body, headers=headers)


def test_set_label_updates_the_comment_and_writes_an_event(client: TestClient, admin, people, rows) -> None:
    num = submit(client)
    response = label(client, people.headers("kim"), num, {"label": "joy", "remark": "  clearly happy  "})
    assert response.status_code == 200
    body = response.json()
    assert (body["label"], body["remark"], body["labeled_by"]) == ("joy", "clearly happy", "kim")
    assert body["labeled_at"] is not None
    stored = rows.comment(num)
    assert (stored.label, stored.remark, stored.labeled_by) == ("joy", "clearly happy", "kim")
    history = client.get(f"/comments/{num}/history", headers=admin).json()
    assert [
        (e["action"], e["changed_by"], e["old_label"], e["new_label"], e["new_remark"], e["label_source"])
        for e in history
    ] == [("set", "kim", None, "joy", "clearly happy", "chosen")]
    assert body["label_source"] == stored.label_source == "chosen"


def test_remark_left_out_is_kept_null_clears_and_blank_is_none(client: TestClient, admin) -> None:
    num = submit(client)
    label(client, admin, num, {"label": "joy", "remark": "first"})
    assert label(client, admin, num, {"label": "fear"}).json()["remark"] == "first"
    assert label(client, admin, num, {"label": "fear", "remark": "   "}).json()["remark"] is None
    label(client, admin, num, {"label": "fear", "remark": "again"})
    assert label(client, admin, num, {"label": "fear", "remark": None}).json()["remark"] is None


def test_clearing_the_label(client: TestClient, admin, rows) -> None:
    num = submit(client)
    label(client, admin, num, {"label": "sadness"})
    body = label(client, admin, num, {"label": None}).json()
    assert (body["label"], body["labeled_by"], body["labeled_at"]) == (None, None, None)
    assert rows.events() == 2
    assert client.get(f"/comments/{num}/history", headers=admin).json()[0]["changed_by"] == "admin"


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        (
            {"label": "happy"},
            {},
            "Input should be 'anger', 'disgust', 'fear', 'joy', 'neutral', 'sadness' or 'surprise'",
        ),
        ({}, {}, "Field required"),
        (
            {"label": "joy", "remark": "r" * 501},
            {},
            "remark is too long: 501 characters after trimming spaces, the limit is 500",
        ),
        ({"label": "joy", "source": "guessed"}, {}, "Input should be 'chosen' or 'accepted'"),
    ],
)
def test_invalid_label_requests_are_422_and_change_nothing(
    client: TestClient, admin, rows, body: dict, headers: dict, message: str
) -> None:
    num = submit(client)
    response = client.put(f"/comments/{num}/label", json=body, headers={**admin, **headers})
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == message
    assert rows.comment(num).label is None and rows.events() == 0


def test_label_of_a_missing_comment_is_404(client: TestClient, admin, rows) -> None:
    response = label(client, admin, 424242, {"label": "joy"})
    assert response.status_code == 404
    assert response.json() == {"detail": "Comment 424242 not found"}
    assert client.get("/comments/424242/history", headers=admin).status_code == 404
    assert rows.events() == 0


def test_accept_labels_predicted_comments_and_skips_the_rest(client: TestClient, admin, people, rows) -> None:
    a, b, c, d = (submit(client, f"t{i}") for i in range(4))
    rows.predict(a, "joy", 0.9)
    rows.predict(b, "fear", 0.6)
    rows.predict(d, "anger", 0.7)
    label(client, admin, d, {"label": "anger"})  # already equal to its prediction: no new event
    response = client.post(
        "/labels/accept", json={"nums": [a, b, c, d, a, 999999]}, headers=people.headers("lee", "admin")
    )
    assert response.status_code == 200
    assert response.json() == {
        "accepted": 3,
        "skipped": [{"num": c, "reason": "no prediction yet"}, {"num": 999999, "reason": "not found"}],
    }
    assert (rows.comment(a).label, rows.comment(b).label, rows.comment(c).label) == ("joy", "fear", None)
    assert rows.comment(a).labeled_by == "lee" and rows.comment(a).label_source == "bulk_accepted"
    assert rows.events() == 3  # d's set, a's and b's accept
    assert client.get(f"/comments/{a}/history", headers=admin).json()[0]["action"] == "accept"


@pytest.mark.parametrize("body", [{"nums": []}, {"nums": list(range(1, 1002))}, {"nums": [0]}, {"nums": "1"}])
def test_invalid_accept_is_422(client: TestClient, admin, rows, body: dict) -> None:
    assert client.post("/labels/accept", json=body, headers=admin).status_code == 422
    assert rows.events() == 0


def test_undo_walks_back_the_history_of_a_comment(client: TestClient, admin, rows) -> None:
    num = submit(client)
    label(client, admin, num, {"label": "joy", "remark": "one"})
    label(client, admin, num, {"label": "fear", "remark": "two"})
    label(client, admin, num, {"label": "anger"})

    def undo() -> dict:
        response = client.post("/labels/undo", json={"num": num}, headers=admin)
        assert response.status_code == 200, response.text
        return response.json()

    assert (undo()["label"], rows.comment(num).remark) == ("fear", "two")
    assert (undo()["label"], rows.comment(num).remark) == ("joy", "one")
    last = undo()
    assert (last["label"], last["remark"], last["labeled_by"]) == (None, None, None)
    nothing = client.post("/labels/undo", json={"num": num}, headers=admin)
    assert nothing.status_code == 404
    assert nothing.json() == {"detail": f"Nothing to undo for comment {num}"}
    assert rows.events() == 6
    assert [e["action"] for e in client.get(f"/comments/{num}/history", headers=admin).json()] == [
        "undo", "undo", "undo", "set", "set", "set"
    ]  # fmt: skip


def test_undo_without_num_reverts_your_own_newest_change(client: TestClient, people, rows) -> None:
    first, second = submit(client, "a"), submit(client, "b")
    kim, lee = people.headers("kim"), people.headers("lee")
    label(client, kim, first, {"label": "joy"})
    label(client, kim, second, {"label": "fear"})
    label(client, lee, second, {"label": "sadness"})  # lee's change is now newest on `second`
    response = client.post("/labels/undo", json={}, headers=kim)
    assert response.status_code == 200
    assert response.json()["num"] == first and response.json()["label"] is None
    assert rows.comment(second).label == "sadness"
    nothing = client.post("/labels/undo", json={"num": None}, headers=kim)
    assert nothing.status_code == 404
    assert nothing.json() == {"detail": "Nothing to undo for you"}
    undone = client.post("/labels/undo", json={}, headers=lee).json()
    assert (undone["num"], undone["label"], undone["labeled_by"]) == (second, "fear", "kim")


def test_annotators_undo_only_their_own_change_admins_anyones(client: TestClient, people, rows) -> None:
    num = submit(client)
    label(client, people.headers("kim"), num, {"label": "joy"})
    label(client, people.headers("lee"), num, {"label": "fear"})
    refused = client.post("/labels/undo", json={"num": num}, headers=people.headers("kim"))
    assert refused.status_code == 403
    assert "lee's" in refused.json()["detail"]
    assert rows.comment(num).label == "fear" and rows.events() == 2
    boss = client.post("/labels/undo", json={"num": num}, headers=people.headers("boss", "admin"))
    assert boss.status_code == 200
    assert (boss.json()["label"], boss.json()["labeled_by"], boss.json()["label_source"]) == (
        "joy",
        "kim",
        "chosen",
    )
    assert rows.comment(num).labeled_by == "kim"
    assert (
        client.get(f"/comments/{num}/history", headers=people.headers("kim")).json()[0]["changed_by"]
        == "boss"
    )


def test_undo_of_a_missing_comment_is_404(client: TestClient, admin) -> None:
    response = client.post("/labels/undo", json={"num": 777777}, headers=admin)
    assert response.status_code == 404
    assert response.json() == {"detail": "Comment 777777 not found"}


def test_x_admin_name_no_longer_names_the_author(client: TestClient, admin, rows) -> None:
    num = submit(client)
    headers = {**admin, "X-Admin-Name": "mallory"}
    assert client.put(f"/comments/{num}/label", json={"label": "joy"}, headers=headers).status_code == 200
    assert rows.comment(num).labeled_by == "admin"
