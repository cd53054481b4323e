"""Label provenance: bulk accept never replaces a person's label (unless an admin overwrites), clears a
stale remark, and every label's source shows in the list filters, the statistics and the export."""

from __future__ import annotations

import csv
import io
import json

from fastapi.testclient import TestClient


def submit(client: TestClient, text: str) -> int:
    return client.post("/comments", json={"request_user": "writer", "comments": text}).json()["num"]


def predicted(client: TestClient, rows, n: int, label: str = "joy") -> list[int]:
    nums = [submit(client, f"text {i}") for i in range(n)]
    for num in nums:
        rows.predict(num, label, 0.8, {label: 0.8, "anger": 0.2})
    return nums


def test_accept_skips_human_labels_with_the_reason(client: TestClient, people, rows) -> None:
    nums = predicted(client, rows, 6)
    ana, boss = people.headers("ana"), people.headers("boss", "admin")
    for num in nums[:5]:
        client.put(f"/comments/{num}/label", json={"label": "anger", "remark": "ana says anger"}, headers=ana)
    response = client.post("/labels/accept", json={"nums": nums}, headers=boss)
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 1
    assert [item["num"] for item in body["skipped"]] == nums[:5]
    assert all("set by a person (ana: anger)" in item["reason"] for item in body["skipped"])
    for num in nums[:5]:
        stored = rows.comment(num)
        assert (stored.label, stored.remark, stored.labeled_by) == ("anger", "ana says anger", "ana")
    assert rows.comment(nums[5]).label_source == "bulk_accepted"


def test_overwrite_is_for_admins_and_clears_the_stale_remark(client: TestClient, people, rows) -> None:
    (num,) = predicted(client, rows, 1)
    ana, boss = people.headers("ana"), people.headers("boss", "admin")
    client.put(f"/comments/{num}/label", json={"label": "anger", "remark": "old note"}, headers=ana)
    assert (
        client.post("/labels/accept", json={"nums": [num], "overwrite": True}, headers=ana).status_code == 403
    )
    response = client.post("/labels/accept", json={"nums": [num], "overwrite": True}, headers=boss)
    assert response.json() == {"accepted": 1, "skipped": []}
    stored = rows.comment(num)
    assert (stored.label, stored.remark, stored.label_source, stored.labeled_by) == (
        "joy", None, "bulk_accepted", "boss"
    )  # fmt: skip
    with_remark = predicted(client, rows, 1)[0]
    client.put(f"/comments/{with_remark}/label", json={"label": "fear", "remark": "x"}, headers=ana)
    client.post(
        "/labels/accept", json={"nums": [with_remark], "overwrite": True, "remark": "checked"}, headers=boss
    )
    assert rows.comment(with_remark).remark == "checked"


def test_accepting_one_shown_prediction_is_source_accepted(client: TestClient, people, rows) -> None:
    (num,) = predicted(client, rows, 1, "sadness")
    ana = people.headers("ana")
    wrong = client.put(f"/comments/{num}/label", json={"label": "joy", "source": "accepted"}, headers=ana)
    assert wrong.status_code == 409 and rows.comment(num).label is None
    ok = client.put(f"/comments/{num}/label", json={"label": "sadness", "source": "accepted"}, headers=ana)
    assert ok.status_code == 200 and ok.json()["label_source"] == "accepted"
    # a bulk accept leaves an accepted label alone (it is a person's decision)
    assert (
        client.post("/labels/accept", json={"nums": [num]}, headers=people.headers("b", "admin")).json()[
            "accepted"
        ]
        == 1
    )
    assert rows.comment(num).label_source == "accepted"


def _three_sources(client: TestClient, people, rows) -> dict[str, int]:
    chosen, accepted, bulk = predicted(client, rows, 3)
    ana, boss = people.headers("ana"), people.headers("boss", "admin")
    client.put(f"/comments/{chosen}/label", json={"label": "anger"}, headers=ana)
    client.put(f"/comments/{accepted}/label", json={"label": "joy", "source": "accepted"}, headers=ana)
    client.post("/labels/accept", json={"nums": [bulk]}, headers=boss)
    return {"chosen": chosen, "accepted": accepted, "bulk_accepted": bulk}


def test_stats_count_and_filter_by_label_source(client: TestClient, people, rows) -> None:
    _three_sources(client, people, rows)
    everything = client.get("/stats").json()
    assert everything["counts"]["by_label_source"] == {"chosen": 1, "accepted": 1, "bulk_accepted": 1}
    assert everything["counts"]["scored"] == 3
    assert abs(everything["accuracy"] - 2 / 3) < 1e-9  # the anger label disagrees with the joy prediction
    humans = client.get("/stats", params=[("label_source", "chosen"), ("label_source", "accepted")]).json()
    assert humans["counts"]["scored"] == 2 and humans["accuracy"] == 0.5
    assert humans["counts"]["by_label_source"]["bulk_accepted"] == 1  # says how many were left out
    assert client.get("/stats", params={"label_source": "guessed"}).status_code == 422


def test_list_and_export_filter_by_label_source(client: TestClient, people, rows) -> None:
    by_source = _three_sources(client, people, rows)
    boss = people.headers("boss", "admin")
    page = client.get("/comments", params={"label_source": "bulk_accepted"}, headers=boss).json()
    assert [item["num"] for item in page["items"]] == [by_source["bulk_accepted"]]
    assert page["items"][0]["label_source"] == "bulk_accepted"
    exported = client.get("/export", params={"format": "csv"}, headers=boss).text
    rows_out = list(csv.DictReader(io.StringIO(exported)))
    assert {int(row["num"]): row["label_source"] for row in rows_out} == {
        num: s for s, num in by_source.items()
    }
    jsonl = client.get(
        "/export",
        params=[("format", "jsonl"), ("label_source", "chosen"), ("label_source", "accepted")],
        headers=boss,
    ).text
    assert sorted(json.loads(line)["label_source"] for line in jsonl.splitlines()) == ["accepted", "chosen"]
    assert client.get("/export", headers=people.headers("ana")).status_code == 403


def test_receipt_answer_holds_no_reviewer_remark_or_judgements(client: TestClient, people, rows) -> None:
    created = client.post("/comments", json={"request_user": "w", "comments": "secret?"}).json()
    client.put(
        f"/comments/{created['num']}/label",
        json={"label": "joy", "remark": "private note"},
        headers=people.headers("ana"),
    )
    body = client.get(f"/comments/by-receipt/{created['receipt']}").json()
    assert body["reviewed"] is True and body["comments"] == "secret?"
    text = json.dumps(body)
    assert "private note" not in text and "ana" not in text
    assert not {"remark", "labeled_by", "label", "judgements", "labeled_by_id"} & set(body)
