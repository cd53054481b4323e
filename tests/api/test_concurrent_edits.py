"""No silent overwrites: ETag on GET /comments/{num}, If-Match on PUT .../label answers 412 with the
current label, remark and author when stale; two clients racing never lose a change silently."""

from __future__ import annotations

import itertools
import threading

from fastapi.testclient import TestClient

RACE_ROUNDS = 200


def submit(client: TestClient) -> int:
    return client.post("/comments", json={"request_user": "u", "comments": "t"}).json()["num"]


def test_get_sends_an_etag_that_changes_with_the_label(client: TestClient, people) -> None:
    ana = people.headers("ana")
    num = submit(client)
    first = client.get(f"/comments/{num}", headers=ana)
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert client.get(f"/comments/{num}", headers=ana).headers["ETag"] == etag
    saved = client.put(f"/comments/{num}/label", json={"label": "joy"}, headers={**ana, "If-Match": etag})
    assert saved.status_code == 200
    assert saved.headers["ETag"] != etag == first.headers["ETag"]
    assert client.get(f"/comments/{num}", headers=ana).headers["ETag"] == saved.headers["ETag"]


def test_stale_if_match_is_412_with_the_current_state_and_changes_nothing(
    client: TestClient, people, rows
) -> None:
    ana, ben = people.headers("ana"), people.headers("ben")
    num = submit(client)
    etag = client.get(f"/comments/{num}", headers=ana).headers["ETag"]
    ben_saved = client.put(
        f"/comments/{num}/label",
        json={"label": "anger", "remark": "ben's"},
        headers={**ben, "If-Match": etag},
    )
    assert ben_saved.status_code == 200
    stale = client.put(f"/comments/{num}/label", json={"label": "joy"}, headers={**ana, "If-Match": etag})
    assert stale.status_code == 412
    body = stale.json()
    assert "ben" in body["detail"]
    current = body["current"]
    assert (current["label"], current["remark"], current["labeled_by"]) == ("anger", "ben's", "ben")
    assert current["etag"] == stale.headers["ETag"] == ben_saved.headers["ETag"]
    assert rows.comment(num).label == "anger" and rows.events() == 1
    # re-apply on purpose with the new ETag
    again = client.put(
        f"/comments/{num}/label", json={"label": "joy"}, headers={**ana, "If-Match": current["etag"]}
    )
    assert again.status_code == 200 and again.json()["labeled_by"] == "ana"


def test_if_match_star_or_absent_writes_and_garbage_is_stale(client: TestClient, people, rows) -> None:
    ana = people.headers("ana")
    num = submit(client)
    assert (
        client.put(
            f"/comments/{num}/label", json={"label": "joy"}, headers={**ana, "If-Match": "*"}
        ).status_code
        == 200
    )
    assert client.put(f"/comments/{num}/label", json={"label": "fear"}, headers=ana).status_code == 200
    other = submit(client)
    wrong_comment = client.get(f"/comments/{other}", headers=ana).headers["ETag"]
    for tag in (wrong_comment, '"nonsense"', "W/" + '"0-0"'):
        response = client.put(
            f"/comments/{num}/label", json={"label": "sadness"}, headers={**ana, "If-Match": tag}
        )
        assert response.status_code == 412, tag
    assert rows.comment(num).label == "fear" and rows.events() == 2


def test_two_clients_racing_lose_nothing_silently(client: TestClient, people, rows) -> None:
    """Each client reads, then writes with If-Match; on 412 it reads again and re-applies. Every 200 is
    one event in the history, the history is one unbroken chain, and every 412 was a real conflict."""
    num = submit(client)
    headers = {"ana": people.headers("ana"), "ben": people.headers("ben")}
    wanted = {"ana": ("joy", "fear"), "ben": ("anger", "sadness")}
    saved: dict[str, list[str]] = {"ana": [], "ben": []}
    conflicts = {"ana": 0, "ben": 0}
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            start.wait()
            for i in range(RACE_ROUNDS):
                label = wanted[name][i % 2]
                etag = client.get(f"/comments/{num}", headers=headers[name]).headers["ETag"]
                while True:
                    response = client.put(
                        f"/comments/{num}/label",
                        json={"label": label, "remark": f"{name} {i}"},
                        headers={**headers[name], "If-Match": etag},
                    )
                    if response.status_code == 200:
                        saved[name].append(response.json()["remark"])
                        break
                    assert response.status_code == 412, response.text
                    conflicts[name] += 1
                    assert response.json()["current"]["etag"] != etag
                    etag = response.json()["current"]["etag"]  # someone else wrote: re-apply on the new state
        except BaseException as error:  # surfaced in the main thread
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(name,)) for name in headers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[0]
    assert len(saved["ana"]) == len(saved["ben"]) == RACE_ROUNDS
    history = list(reversed(client.get(f"/comments/{num}/history", headers=headers["ana"]).json()))
    assert len(history) == 2 * RACE_ROUNDS == rows.events()
    # every saved change is in the history, with its author, in order per client
    for name in headers:
        assert [e["new_remark"] for e in history if e["changed_by"] == name] == saved[name]
    # one unbroken chain: each change started from the state the previous one left
    for before, after in itertools.pairwise(history):
        assert (after["old_label"], after["old_remark"]) == (before["new_label"], before["new_remark"])
    final = rows.comment(num)
    assert (final.label, final.remark) == (history[-1]["new_label"], history[-1]["new_remark"])
    assert final.label_version == 2 * RACE_ROUNDS
