"""Several annotators per comment: judgements apart, a label once enough agree, the admin's disagreements
queue and its resolution, blind queues, and agreement statistics equal to the libraries' own."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

import krippendorff
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sklearn.metrics import cohen_kappa_score

from threekcal.api import create_app
from threekcal.emotions import LABELS
from threekcal.settings import Settings


@pytest.fixture
def make_client(settings: Settings) -> Iterator:
    clients: list[TestClient] = []

    def make(required: int, **overrides) -> TestClient:
        update = {"labels_per_comment": required, "submit_rate_limit": "1000/minute", **overrides}
        app = create_app(settings.model_copy(update=update))
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def submit(client: TestClient, n: int) -> list[int]:
    return [
        client.post("/comments", json={"request_user": "w", "comments": f"text {i}"}).json()["num"]
        for i in range(n)
    ]


def judge(client: TestClient, headers, num: int, label: str):
    return client.put(f"/comments/{num}/label", json={"label": label}, headers=headers)


def queue(client: TestClient, headers) -> list[int]:
    return [
        item["num"]
        for item in client.get("/comments", params={"queue": "true"}, headers=headers).json()["items"]
    ]


def test_two_annotators_agree_or_go_to_the_admin(make_client, people, rows) -> None:
    client = make_client(2)
    ana, ben, boss = people.headers("ana"), people.headers("ben"), people.headers("boss", "admin")
    agreed, split = submit(client, 2)

    first = judge(client, ana, agreed, "joy")
    assert first.status_code == 200
    assert (first.json()["judged"], first.json()["complete"], first.json()["label"]) == (True, False, None)
    assert rows.comment(agreed).label is None and rows.events() == 0
    assert queue(client, ana) == [split]  # never a comment she judged
    assert queue(client, ben) == [split, agreed]
    done = judge(client, ben, agreed, "joy")
    assert (done.json()["complete"], done.json()["label"], done.json()["label_source"]) == (
        True,
        "joy",
        "chosen",
    )
    assert queue(client, ben) == [split]

    judge(client, ana, split, "anger")
    judge(client, ben, split, "fear")
    assert rows.comment(split).label is None
    assert queue(client, ana) == queue(client, ben) == []  # complete: no third judgement asked for
    assert judge(client, people.headers("cid"), split, "joy").status_code == 200  # a late one is still kept
    disagreements = client.get("/disagreements", headers=boss).json()
    assert [d["num"] for d in disagreements] == [split]
    assert {(j["username"], j["label"]) for j in disagreements[0]["judgements"]} == {
        ("ana", "anger"), ("ben", "fear"), ("cid", "joy")
    }  # fmt: skip
    assert client.get("/disagreements", headers=ana).status_code == 403

    resolved = client.post(
        f"/disagreements/{split}/resolve", json={"label": "fear", "remark": "context"}, headers=boss
    )
    assert resolved.status_code == 200
    assert (resolved.json()["label"], resolved.json()["label_source"], resolved.json()["labeled_by"]) == (
        "fear", "resolved", "boss"
    )  # fmt: skip
    assert client.get("/disagreements", headers=boss).json() == []
    again = client.post(f"/disagreements/{agreed}/resolve", json={"label": "fear"}, headers=boss)
    assert again.status_code == 409
    # an annotator cannot change a complete comment; an admin can
    assert judge(client, ana, agreed, "sadness").status_code == 409
    assert judge(client, boss, agreed, "sadness").json()["label"] == "sadness"


def test_three_annotators_need_three_agreeing(make_client, people, rows) -> None:
    client = make_client(3)
    heads = [people.headers(name) for name in ("ana", "ben", "cid")]
    (num,) = submit(client, 1)
    judge(client, heads[0], num, "joy")
    judge(client, heads[1], num, "joy")
    assert rows.comment(num).label is None
    judge(client, heads[0], num, "joy")  # judging again replaces one's own judgement, it adds none
    assert rows.comment(num).label is None
    assert judge(client, heads[2], num, "joy").json()["label"] == "joy"
    assert rows.comment(num).label == "joy" and rows.events() == 1


def test_annotators_label_blind_when_several_judge(make_client, people) -> None:
    client = make_client(2)
    ana = people.headers("ana")
    nums = submit(client, 2)
    judge(client, ana, nums[0], "joy")
    # even without queue=true an annotator's list leaves out what she judged; an admin sees everything
    assert [i["num"] for i in client.get("/comments", headers=ana).json()["items"]] == [nums[1]]
    admin_view = client.get("/comments", headers=people.headers("boss", "admin")).json()["items"]
    assert sorted(i["num"] for i in admin_view) == nums


def test_withdrawing_a_judgement(make_client, people, rows) -> None:
    client = make_client(2)
    ana = people.headers("ana")
    (num,) = submit(client, 1)
    judge(client, ana, num, "joy")
    assert client.put(f"/comments/{num}/label", json={"label": None}, headers=ana).json()["judged"] is True
    assert queue(client, ana) == [num]


def _fixture_judgements(seed: int = 7, comments: int = 40) -> dict[str, dict[int, str]]:
    """Three annotators with a learnable agreement: each copies a hidden truth with their own accuracy."""
    rng = random.Random(seed)
    truth = [rng.choice(LABELS) for _ in range(comments)]
    accuracy = {"ana": 0.9, "ben": 0.75, "cid": 0.6}
    judged: dict[str, dict[int, str]] = {name: {} for name in accuracy}
    for index, label in enumerate(truth):
        for name, p in accuracy.items():
            if name == "cid" and index % 4 == 0:
                continue  # cid skipped some comments: alpha copes with missing values
            judged[name][index] = label if rng.random() < p else rng.choice(LABELS)
    return judged


def test_agreement_equals_the_libraries_on_a_fixture(make_client, people) -> None:
    client = make_client(10, kappa_min_common=20)  # 10 needed: no comment completes, judgements stay apart
    judged = _fixture_judgements()
    nums = submit(client, 40)
    heads = {name: people.headers(name) for name in judged}
    for name, labels in judged.items():
        for index, label in labels.items():
            assert judge(client, heads[name], nums[index], label).status_code == 200
    boss = people.headers("boss", "admin")
    response = client.get("/stats/agreement", headers=boss)
    assert response.status_code == 200
    body = response.json()
    assert client.get("/stats/agreement", headers=heads["ana"]).status_code == 403

    pairs = {tuple(p["annotators"]): p for p in body["pairs"]}
    assert set(pairs) == {("ana", "ben"), ("ana", "cid"), ("ben", "cid")}
    for (first, second), pair in pairs.items():
        common = sorted(judged[first].keys() & judged[second].keys())
        assert pair["common"] == len(common)
        expected = cohen_kappa_score([judged[first][i] for i in common], [judged[second][i] for i in common])
        assert pair["kappa"] == pytest.approx(expected, abs=1e-12)
    index = {label: i for i, label in enumerate(LABELS)}
    matrix = np.array(
        [
            [index[judged[name][i]] if i in judged[name] else np.nan for i in range(40)]
            for name in sorted(judged)
        ],
        dtype=float,
    )
    expected_alpha = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
    assert body["krippendorff_alpha"] == pytest.approx(expected_alpha, abs=1e-12)
    assert not math.isnan(body["krippendorff_alpha"])
    per = {a["username"]: a for a in body["annotators"]}
    assert per["cid"]["judgements"] == 30 and sum(per["cid"]["per_day"].values()) == 30
    assert body["judgements"] == 110 and body["comments"] == 40


def test_pairs_below_the_minimum_in_common_are_left_out(make_client, people) -> None:
    client = make_client(2, kappa_min_common=20)
    nums = submit(client, 5)
    for num in nums:
        judge(client, people.headers("ana"), num, "joy")
        judge(client, people.headers("ben"), num, "joy" if num % 2 else "fear")
    body = client.get("/stats/agreement", headers=people.headers("boss", "admin")).json()
    assert body["pairs"] == []
    per = {a["username"]: a for a in body["annotators"]}
    # agreement with the final labels: ana matched every agreed label, ben only those
    agreed = [num for num in nums if num % 2]
    assert per["ana"]["with_final_label"] == len(agreed) and per["ana"]["agreement_with_final"] == 1.0
