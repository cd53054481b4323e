"""The web app against the real API in-process (temporary SQLite): sign in with username and password,
who is signed in and the role, what an annotator sees, and a 412 shown to the person with both ways on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from streamlit.testing.v1 import AppTest

import threekcal.ui
from threekcal.api import create_app
from threekcal.db import accounts, migrate
from threekcal.db.models import Comment
from threekcal.db.session import engine_for, session_factory
from threekcal.db.types import utcnow
from threekcal.settings import Settings
from threekcal.ui import client

APP_PATH = Path(threekcal.ui.__file__).with_name("app.py")
API_URL = "http://threekcal-api.test"
PASSWORDS = {"ana": "ana-password-1", "boss": "boss-password-1", "ben": "ben-password-1"}


class _Bridge(httpx.BaseTransport):
    """The web app's httpx requests, answered by the real app through Starlette's TestClient (which is
    built on another HTTP library, so each request is handed over and the answer copied back)."""

    def __init__(self, http: TestClient) -> None:
        self.http = http

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        answer = self.http.request(
            request.method,
            str(request.url),
            content=request.read(),
            headers=[(name, value) for name, value in request.headers.multi_items() if name != "host"],
        )
        headers = [
            (k, v)
            for k, v in answer.headers.multi_items()
            if k not in ("content-encoding", "transfer-encoding")
        ]
        return httpx.Response(answer.status_code, headers=headers, content=answer.content, request=request)


@pytest.fixture
def labels_per_comment() -> int:
    return 1


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, labels_per_comment: int) -> Iterator[TestClient]:
    url = f"sqlite:///{tmp_path / 'ui.db'}"
    migrate.upgrade(url)
    settings = Settings(
        env="test",
        database_url=url,
        admin_token="ui-login-admin-token-0123",
        labels_per_comment=labels_per_comment,
        _env_file=None,
    )
    with session_factory(url)() as session:
        accounts.create_user(session, "ana", role="annotator", password=PASSWORDS["ana"])
        accounts.create_user(session, "ben", role="annotator", password=PASSWORDS["ben"])
        accounts.create_user(session, "boss", role="admin", password=PASSWORDS["boss"])
    monkeypatch.setenv("THREEKCAL_API_URL", API_URL)
    monkeypatch.setenv("THREEKCAL_LANG", "en")
    monkeypatch.chdir(tmp_path)
    with TestClient(create_app(settings), base_url=API_URL) as http:
        client.set_transport_factory(lambda: _Bridge(http))
        created = http.post("/comments", json={"request_user": "writer", "comments": "what a day"}).json()
        with engine_for(url).begin() as connection:  # what the pipeline's apply step writes
            connection.execute(
                update(Comment)
                .where(Comment.num == created["num"])
                .values(prediction_result="joy", prediction_score=0.8, prediction_scores={"joy": 0.8},
                        prediction_time=utcnow(), model_version="test")
            )  # fmt: skip
        yield http
    client.set_transport_factory(None)


def bearer(http: TestClient, name: str) -> dict[str, str]:
    token = http.post("/auth/login", data={"username": name, "password": PASSWORDS[name]}).json()[
        "access_token"
    ]
    return {"Authorization": f"Bearer {token}"}


def label_page() -> AppTest:
    app = AppTest.from_file(str(APP_PATH), default_timeout=30)
    app.run()
    app.switch_page("screens/label.py").run()
    return app


def sign_in(app: AppTest, name: str, password: str) -> AppTest:
    app.text_input(key="login_username").input(name)
    app.text_input(key="login_password").input(password)
    next(button for button in app.button if button.label == "Log in").click().run()
    return app


def texts(app: AppTest) -> str:
    parts = [
        element.value
        for element in (*app.markdown, *app.sidebar.markdown, *app.info, *app.error, *app.warning)
    ]
    return "\n".join(str(part) for part in parts)


def test_annotator_signs_in_sees_name_and_role_and_no_admin_actions(api: TestClient) -> None:
    app = sign_in(label_page(), "ana", PASSWORDS["ana"])
    assert not app.exception
    assert "Signed in as **ana** (annotator)" in texts(app)
    labels = {button.label for button in app.button}
    assert any(label.startswith("Accept") for label in labels) is False  # bulk accept is for admins
    assert "Undo my last change" in labels or any("Undo" in label for label in labels)
    assert not [widget for widget in app.multiselect if widget.key == "label_selected"]
    assert app.session_state["login_password"] == ""  # the password is not kept
    # log out: back to the form
    next(button for button in app.sidebar.button if button.label == "Log out").click().run()
    assert [widget.key for widget in app.text_input if widget.key == "login_password"]
    assert "Signed in as" not in texts(app)


def test_admin_sees_bulk_accept(api: TestClient) -> None:
    app = sign_in(label_page(), "boss", PASSWORDS["boss"])
    assert "Signed in as **boss** (admin)" in texts(app)
    assert any(button.label.startswith("Accept") for button in app.button)


def test_wrong_password_says_so_and_stays_signed_out(api: TestClient) -> None:
    app = sign_in(label_page(), "ana", "not-her-password")
    assert "Wrong username or password" in texts(app)
    assert "Signed in as" not in texts(app)
    assert app.session_state["login_password"] == ""


def test_a_change_made_meanwhile_is_shown_and_can_be_kept_or_overridden(api: TestClient) -> None:
    app = sign_in(label_page(), "ana", PASSWORDS["ana"])
    num = api.get("/comments", headers=bearer(api, "boss")).json()["items"][0]["num"]
    # ben labels the comment after ana's page was read
    api.put(
        f"/comments/{num}/label",
        json={"label": "anger", "remark": "ben thinks so"},
        headers=bearer(api, "ben"),
    )
    app.selectbox(key=f"edit_label_{num}").select("sadness")
    next(button for button in app.button if button.label == "Save").click().run()
    shown = texts(app)
    assert f"Comment #{num} was changed by ben" in shown and "ben thinks so" in shown
    assert api.get(f"/comments/{num}", headers=bearer(api, "boss")).json()["label"] == "anger"  # nothing lost

    next(button for button in app.button if button.label == "Re-apply mine").click().run()
    stored = api.get(f"/comments/{num}", headers=bearer(api, "boss")).json()
    assert (stored["label"], stored["labeled_by"]) == ("sadness", "ana")
    history = api.get(f"/comments/{num}/history", headers=bearer(api, "boss")).json()
    assert [(event["changed_by"], event["new_label"]) for event in history] == [
        ("ana", "sadness"),
        ("ben", "anger"),
    ]
    assert "was changed by" not in texts(app)


def test_keep_theirs_leaves_the_other_label(api: TestClient) -> None:
    app = sign_in(label_page(), "ana", PASSWORDS["ana"])
    num = api.get("/comments", headers=bearer(api, "boss")).json()["items"][0]["num"]
    api.put(f"/comments/{num}/label", json={"label": "fear"}, headers=bearer(api, "ben"))
    app.selectbox(key=f"edit_label_{num}").select("joy")
    next(button for button in app.button if button.label == "Save").click().run()
    next(button for button in app.button if button.label == "Keep theirs").click().run()
    assert "was changed by" not in texts(app)
    assert app.selectbox(key=f"edit_label_{num}").value == "fear"
    assert api.get(f"/comments/{num}", headers=bearer(api, "boss")).json()["label"] == "fear"


def test_statistics_can_leave_bulk_accepted_labels_out_and_say_how_many(api: TestClient) -> None:
    boss = bearer(api, "boss")
    first = api.get("/comments", headers=boss).json()["items"][0]["num"]
    assert (
        api.post("/labels/accept", json={"nums": [first]}, headers=boss).json()["accepted"] == 1
    )  # joy, right
    second = api.post("/comments", json={"request_user": "writer", "comments": "meh"}).json()["num"]
    with session_factory(api.app.state.settings.database_url)() as session:  # the pipeline's prediction
        session.execute(
            update(Comment).where(Comment.num == second)
            .values(prediction_result="joy", prediction_score=0.6, prediction_scores={"joy": 0.6},
                    prediction_time=utcnow(), model_version="test")
        )  # fmt: skip
        session.commit()
    api.put(f"/comments/{second}/label", json={"label": "anger"}, headers=bearer(api, "ana"))  # wrong

    app = AppTest.from_file(str(APP_PATH), default_timeout=30)
    app.run()
    app.switch_page("screens/statistics.py").run()
    accuracy = lambda: next(m.value for m in app.metric if m.label == "Accuracy over all labels")  # noqa: E731
    assert accuracy() == "50.0% (n=2)"
    switch = app.toggle(key="stats_leave_out_bulk")
    assert switch.label == "Leave bulk-accepted labels out (1 of them)"
    switch.set_value(True).run()
    assert accuracy() == "0.0% (n=1)"  # only the person's label counts, and it disagrees with the model


@pytest.mark.parametrize("labels_per_comment", [2])
def test_admin_resolves_a_disagreement_in_the_web_app(api: TestClient) -> None:
    boss = bearer(api, "boss")
    num = api.get("/comments", headers=boss).json()["items"][0]["num"]
    api.put(
        f"/comments/{num}/label", json={"label": "joy", "remark": "ana's view"}, headers=bearer(api, "ana")
    )
    api.put(f"/comments/{num}/label", json={"label": "fear"}, headers=bearer(api, "ben"))
    assert [d["num"] for d in api.get("/disagreements", headers=boss).json()] == [num]

    app = sign_in(label_page(), "boss", PASSWORDS["boss"])
    app.switch_page("screens/disagreements.py").run()
    assert not app.exception
    shown = texts(app)
    assert (
        f"**#{num}**" in shown and "**ana**" in shown and "**ben**" in shown and "ana\\'s view" in shown
    )  # escaped for markdown
    app.selectbox(key=f"resolve_label_{num}").select("fear")
    app.button(key=f"resolve_{num}").click().run()
    stored = api.get(f"/comments/{num}", headers=boss).json()
    assert (stored["label"], stored["label_source"], stored["labeled_by"]) == ("fear", "resolved", "boss")
    assert "No disagreement is waiting." in [element.value for element in app.success]


@pytest.mark.parametrize("labels_per_comment", [2])
def test_annotators_have_no_disagreements_page(api: TestClient) -> None:
    app = sign_in(label_page(), "ana", PASSWORDS["ana"])
    assert "Signed in as **ana** (annotator)" in texts(app)
    with pytest.raises(ValueError, match="Could not find a navigation page"):  # not among her pages
        app.switch_page("screens/disagreements.py")
