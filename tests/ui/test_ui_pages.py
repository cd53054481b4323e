"""Every page under AppTest against the real API in-process (temporary SQLite), and with the API down."""

from __future__ import annotations

import base64
import contextlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from pydantic import SecretStr
from sqlalchemy import insert
from streamlit.testing.v1 import AppTest
from ui_api import UI_ADMIN_TOKEN, RealApi, api_settings, assert_routes_exist, serve_api

from threekcal.db import accounts
from threekcal.db.models import PredictionBatch
from threekcal.db.session import engine_for, session_factory
from threekcal.emotions import LABELS
from threekcal.ui import client

OpenPage = Callable[..., AppTest]


def scores_for(top: str, confidence: float) -> dict[str, float]:
    rest = (1 - confidence) / (len(LABELS) - 1)
    return {label: confidence if label == top else rest for label in LABELS}


def page_text(app: AppTest) -> str:
    parts = [element.value for kind in ("title", "markdown", "caption", "info", "warning", "success", "error")
             for element in getattr(app, kind)]  # fmt: skip
    return "\n".join(str(part) for part in parts)


def assert_no_exception(app: AppTest) -> None:
    assert [exception.value for exception in app.exception] == []


def plotly_specs(app: AppTest) -> list[dict[str, Any]]:
    return [json.loads(element.proto.spec) for element in app.get("plotly_chart")]


def plotly_array(value: Any) -> np.ndarray:
    """Plotly writes numpy arrays as typed arrays: {dtype, bdata (base64), shape}."""
    if isinstance(value, dict) and "bdata" in value:
        data = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = [int(part) for part in str(value.get("shape", len(data))).split(",")]
        return data.reshape(shape)
    return np.asarray(value)


def chart_specs(app: AppTest) -> dict[str, dict[str, Any]]:
    return {spec["layout"]["title"]["text"]: spec for spec in plotly_specs(app)}


def open_tab(app: AppTest, label: str) -> AppTest:
    """What a click on a Statistics tab does: the tab's label becomes the keyed state, then a rerun."""
    app.session_state["stats_tab_en"] = label
    return app.run()


def metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def last_query(api: RealApi, path: str) -> dict[str, str]:
    return dict(api.calls("GET", path)[-1].url.params)


# ----------------------------------------------------------------------------------- API down
@pytest.mark.parametrize("page", ["home", "upload", "label", "statistics"])
def test_every_page_explains_an_unreachable_api_and_retries(
    page: str, api_down: list[Any], open_page: OpenPage, real_api_later: Callable[[], RealApi]
) -> None:
    app = open_page(page, admin_token=UI_ADMIN_TOKEN)
    assert_no_exception(app)
    if page == "upload":  # nothing to fetch until something is sent
        app.text_area(key="upload_user").input("minji")
        app.text_area(key="upload_text").input("Is anyone there?")
        app.button[0].click().run()
        assert app.text_area(key="upload_text").value == "Is anyone there?"  # kept for the next try
    errors = [error.value for error in app.error]
    assert errors, page
    assert "cannot be reached" in errors[0] and "http://threekcal-api.test" in errors[0]
    assert api_down, "the page did try the API"
    if page != "upload":
        retry = next(button for button in app.button if button.label == "Retry")
        real_api_later()
        retry.click().run()
        assert_no_exception(app)
        assert not any("cannot be reached" in error.value for error in app.error)


@pytest.fixture
def real_api_later(tmp_path: Path) -> Iterator[Callable[[], RealApi]]:
    """Bring the API back (the real one) in the middle of a test."""
    with contextlib.ExitStack() as stack:
        yield lambda: stack.enter_context(serve_api(api_settings(tmp_path)))


# ---------------------------------------------------------------------------------------- home
def test_home_explains_draws_the_flow_and_shows_pipeline_status(
    real_api: RealApi, open_page: OpenPage
) -> None:
    real_api.add_comment("minji", "waiting one")
    real_api.add_comment("minji", "waiting two")
    with engine_for(real_api.settings.database_url).begin() as connection:  # a log predict wrote
        connection.execute(
            insert(PredictionBatch).values(
                run_id="20260101T000000-abc",
                log_path="date=2026-01-01/20260101T000000-abc.jsonl",
                records=42,
                created_at=datetime(2026, 1, 1, tzinfo=UTC),
                num_min=1000,
                num_max=1041,
            )
        )
    app = open_page("home")
    assert_no_exception(app)
    assert "DistilRoBERTa" in page_text(app)
    (diagram,) = app.get("graphviz_chart")
    assert "digraph" in diagram.proto.spec and "->" in diagram.proto.spec
    assert metrics(app)["Waiting for a prediction"] == "2"
    assert metrics(app)["Logs not applied yet"] == "1"
    run_table = app.dataframe[0].value
    assert "20260101T000000-abc" in run_table.to_string()
    assert "No run yet." in page_text(app)  # no apply run


def test_language_comes_from_the_environment_and_switches_in_the_sidebar(
    real_api: RealApi, open_page: OpenPage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THREEKCAL_LANG", "ko")
    app = open_page("home")
    assert app.title[0].value.startswith("ThreeKcal: 이 글은")
    assert "예측 대기" in metrics(app)
    app.sidebar.radio[0].set_value("en").run()
    assert app.title[0].value.startswith("ThreeKcal: how does")
    assert "Waiting for a prediction" in metrics(app)
    app.switch_page("screens/statistics.py").run()
    assert app.title[0].value == "Statistics"  # the choice holds across pages


# -------------------------------------------------------------------------------------- upload
def test_upload_shows_limits_and_checks_input_before_sending(real_api: RealApi, open_page: OpenPage) -> None:
    app = open_page("upload")
    assert "1 to 64 characters" in page_text(app) and "1 to 2000 characters" in page_text(app)
    # no browser-side limit: it would cut a paste short or drop it; the count says where one stands
    assert app.text_area(key="upload_user").proto.max_chars == 0
    assert app.text_area(key="upload_text").proto.max_chars == 0
    captions = [caption.value for caption in app.caption]
    assert "0 / 64 characters" in captions and "0 / 2,000 characters" in captions
    app.text_area(key="upload_user").input("bad\tname")
    app.text_area(key="upload_text").input("   ")
    app.button[0].click().run()
    errors = [error.value for error in app.error]
    assert any("control characters" in error for error in errors)
    assert "Enter a comment." in errors
    assert real_api.calls("POST", "/comments") == []


def test_upload_submits_then_shows_the_prediction_when_it_arrives(
    real_api: RealApi, open_page: OpenPage
) -> None:
    app = open_page("upload")
    app.text_area(key="upload_user").input("minji")
    app.text_area(key="upload_text").input("I love rainy days")
    app.button[0].click().run()
    assert_no_exception(app)
    (created,) = real_api.calls("POST", "/comments")
    assert json.loads(created.content) == {"request_user": "minji", "comments": "I love rainy days"}
    assert "Comment #1 received" in page_text(app)
    assert "Waiting for the prediction" in page_text(app)
    assert app.text_area(key="upload_text").value == ""  # ready for the next comment
    assert app.text_area(key="upload_user").value == "minji"

    real_api.predict(1, scores_for("joy", 0.83))
    app.run()
    text = page_text(app)
    assert "😀 joy" in text and "Waiting for the prediction" not in text
    assert app.get("progress")[0].proto.value == 83
    probabilities = plotly_specs(app)[0]["data"][0]
    assert max(plotly_array(probabilities["x"])) == pytest.approx(0.83)
    recent = app.dataframe[0].value
    assert recent["num"].tolist() == [1] and recent["prediction"].tolist() == ["😀 joy"]
    receipt_calls = [request for request in real_api.requests if "/by-receipt/" in request.url.path]
    assert receipt_calls, "the page polls by receipt"
    assert all("Authorization" not in request.headers for request in real_api.requests)

    polls = len(receipt_calls)
    app.run()  # predicted: nothing left to poll
    assert len([request for request in real_api.requests if "/by-receipt/" in request.url.path]) == polls


def test_upload_lists_only_this_users_submissions(real_api: RealApi, open_page: OpenPage) -> None:
    app = open_page("upload")
    for user, text in (("minji", "first"), ("jisoo", "second"), ("minji", "third")):
        app.text_area(key="upload_user").input(user)
        app.text_area(key="upload_text").input(text)
        app.button[0].click().run()
    assert app.dataframe[0].value["comment"].tolist() == ["third", "first"]
    assert "Your recent comments (minji)" in [header.value for header in app.subheader]


def test_upload_reports_a_refused_submission(tmp_path: Path, open_page: OpenPage) -> None:
    """The real API with its smallest body limit refuses a comment the form accepts: the page says why."""
    with serve_api(api_settings(tmp_path, max_body_bytes=1024)) as api:
        app = open_page("upload")
        app.text_area(key="upload_user").input("minji")
        app.text_area(key="upload_text").input("long " * 300)
        app.button[0].click().run()
        assert_no_exception(app)
        assert len(api.calls("POST", "/comments")) == 1
        assert any("error 413" in error.value and "1024 bytes" in error.value for error in app.error)
        assert api.http.get("/stats").json()["counts"]["total"] == 0  # nothing stored


def test_a_page_explains_an_api_error_5xx(
    open_page: OpenPage, openapi_routes: list[tuple[str, re.Pattern[str]]]
) -> None:
    """An API answering 500 (a stand-in: the real one cannot be made to); the routes are real ones."""
    sent: list[httpx.Request] = []

    def broken(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500, json={"detail": "Internal Server Error"})

    client.set_transport_factory(lambda: httpx.MockTransport(broken))
    app = open_page("statistics")
    assert_no_exception(app)
    assert any("500" in error.value for error in app.error), [error.value for error in app.error]
    assert sent
    assert_routes_exist(sent, openapi_routes)


# --------------------------------------------------------------------------------------- label
@pytest.fixture
def labelled_api(real_api: RealApi) -> RealApi:
    real_api.add_comment("minji", "I love rain", scores=scores_for("joy", 0.9))
    real_api.add_comment("jisoo", "rain again, great", scores=scores_for("joy", 0.4))
    real_api.add_comment("minji", "that is disgusting", scores=scores_for("disgust", 0.6))
    real_api.add_comment("jisoo", "not predicted yet")
    return real_api


ADMIN_PASSWORD = "ui-admin-password-1"


def log_in(app: AppTest, username: str, password: str) -> AppTest:
    app.text_input(key="login_username").input(username)
    app.text_input(key="login_password").input(password)
    return next(button for button in app.button if button.label == "Log in").click().run()


def test_label_needs_a_login(labelled_api: RealApi, open_page: OpenPage) -> None:
    with session_factory(labelled_api.settings.database_url)() as session:
        accounts.create_user(session, "boss", role="admin", password=ADMIN_PASSWORD)
    app = open_page("label")
    assert "Log in with your username and password" in page_text(app)
    assert len(app.dataframe) == 0
    log_in(app, "boss", "not-the-password-1")
    assert any("Wrong username or password" in error.value for error in app.error)
    assert "admin_token" not in app.session_state
    log_in(app, "boss", ADMIN_PASSWORD)
    assert_no_exception(app)
    token = app.session_state["admin_token"]
    assert labelled_api.http.get("/comments", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert len(app.dataframe) >= 1


def test_label_lists_least_confident_first_and_saves_a_label(
    labelled_api: RealApi, open_page: OpenPage
) -> None:
    app = open_page("label", admin_token=labelled_api.token)
    assert_no_exception(app)
    query = last_query(labelled_api, "/comments")
    assert query["sort"] == "least_confident" and query["with_total"] == "true"
    table = app.dataframe[0].value
    assert table["num"].tolist() == [2, 3, 1, 4]
    assert table["score"].tolist()[:3] == pytest.approx([0.4, 0.6, 0.9])
    assert table.loc[0, "p_joy"] == pytest.approx(0.4)
    assert "4 match" in page_text(app)

    assert app.selectbox(key="label_edit_num").value == 2  # the first row is edited by default
    app.selectbox(key="edit_label_2").select("surprise")
    app.text_input(key="edit_remark_2").input("sarcasm, not joy")
    next(button for button in app.button if button.label == "Save").click().run()
    assert_no_exception(app)
    (saved,) = labelled_api.calls("PUT", "/comments/2/label")
    assert json.loads(saved.content) == {"label": "surprise", "remark": "sarcasm, not joy"}
    assert "Saved: comment #2 is 😲 surprise." in page_text(app)
    table = app.dataframe[0].value
    assert table.loc[table["num"] == 2, "label"].item() == "😲 surprise"
    history = app.dataframe[-1].value
    assert history["new_label"].tolist() == ["😲 surprise"] and history["new_remark"].tolist() == [
        "sarcasm, not joy"
    ]


def test_label_filters_are_sent_to_the_api(labelled_api: RealApi, open_page: OpenPage) -> None:
    app = open_page("label", admin_token=labelled_api.token)
    app.selectbox(key="lf_predicted").select("joy").run()
    app.segmented_control(key="lf_status").set_value("unlabeled").run()
    app.text_input(key="lf_q").input("rain").run()
    app.slider(key="lf_score").set_value((0.3, 1.0)).run()
    app.selectbox(key="lf_user").select("jisoo").run()
    assert_no_exception(app)
    query = last_query(labelled_api, "/comments")
    assert {
        key: query[key] for key in ("prediction_result", "labeled", "q", "min_score", "request_user")
    } == {
        "prediction_result": "joy",
        "labeled": "false",
        "q": "rain",
        "min_score": "0.3",
        "request_user": "jisoo",
    }
    assert "max_score" not in query
    assert app.dataframe[0].value["num"].tolist() == [2]
    app.text_input(key="lf_q").input("no such words").run()
    assert "No comment matches these filters." in page_text(app)


def test_label_accepts_predictions_undoes_and_shows_history(
    labelled_api: RealApi, open_page: OpenPage
) -> None:
    app = open_page("label", admin_token=labelled_api.token)
    app.multiselect(key="label_selected").select(1).select(3).select(4).run()
    accept = next(button for button in app.button if button.label.startswith("Accept prediction"))
    assert accept.label == "Accept prediction (3)"
    accept.click().run()
    (accepted,) = labelled_api.calls("POST", "/labels/accept")
    assert sorted(json.loads(accepted.content)["nums"]) == [1, 3, 4]
    assert "Accepted the prediction of 2 comments. Skipped: #4 (no prediction yet)." in page_text(app)
    assert labelled_api.comment(3)["label"] == "disgust"
    assert app.multiselect(key="label_selected").value == []  # nothing stays picked after a bulk action

    next(button for button in app.button if button.label == "Undo last change").click().run()
    assert len(labelled_api.calls("POST", "/labels/undo")) == 1
    assert labelled_api.comment(3)["label"] is None
    assert "Undone: comment #3" in page_text(app)

    app.selectbox(key="label_edit_num").select(3).run()
    history = app.dataframe[-1].value
    assert history["action"].tolist() == ["undo", "accepted prediction"]

    app.session_state["label_selected"] = []
    next(button for button in app.button if button.label == "Undo last change").click().run()
    next(button for button in app.button if button.label == "Undo last change").click().run()
    next(button for button in app.button if button.label == "Undo last change").click().run()
    assert "There is no change to undo." in page_text(app)


def test_label_pages_with_the_keyset_cursor(real_api: RealApi, open_page: OpenPage) -> None:
    real_api.insert_rows(  # straight into the database: 60 submissions would meet the API's rate limits
        [
            {
                "num": index + 1,
                "comments": f"comment {index}",
                "request_user": f"user{index % 3}",
                "request_time": "2026-11-24T12:00:00+00:00",
                "prediction_result": "joy",
                "prediction_score": 0.2 + index / 100,
                "prediction_scores": scores_for("joy", 0.2 + index / 100),
            }
            for index in range(60)
        ]
    )
    app = open_page("label", admin_token=real_api.token)
    assert len(app.dataframe[0].value) == 50
    previous = next(button for button in app.button if button.label == "Previous")
    assert previous.disabled
    first_page = app.dataframe[0].value["num"].tolist()
    assert first_page == list(range(1, 51))  # least confident first: scores grow with num
    next(button for button in app.button if button.label == "Next").click().run()
    cursor = last_query(real_api, "/comments")["cursor"]
    # The API's keyset cursor is opaque: whatever it is, the page sends back what the API gave it.
    lists = real_api.calls("GET", "/comments")
    first_request = [call for call in lists if "cursor" not in call.url.params][-1]
    sent_back = real_api.http.get("/comments", params=first_request.url.params, headers=real_api.admin)
    assert cursor == sent_back.json()["next_cursor"] and cursor not in {"50", "51"}
    assert app.dataframe[0].value["num"].tolist() == list(range(51, 61))
    assert next(button for button in app.button if button.label == "Next").disabled
    next(button for button in app.button if button.label == "Previous").click().run()
    assert "cursor" not in last_query(real_api, "/comments")
    assert len(app.dataframe[0].value) == 50


def test_label_logs_out_when_the_token_stops_working(labelled_api: RealApi, open_page: OpenPage) -> None:
    app = open_page("label", admin_token=labelled_api.token)
    rotated = labelled_api.settings.model_copy(update={"admin_token": SecretStr("rotated-token-0123456789")})
    with serve_api(rotated):  # the API restarted with another token
        app.run()
    assert_no_exception(app)
    assert "admin_token" not in app.session_state
    assert app.error, "the page says why it logged out"
    assert "Log in with your username and password" in page_text(app)


# ---------------------------------------------------------------------------------- statistics
def seeded_rows(count: int = 1000, seed: int = 20261124) -> list[dict[str, Any]]:
    """Labelled, predicted comments whose predictions agree with the label more often than chance."""
    rng = np.random.default_rng(seed)
    rows = []
    for num in range(1, count + 1):
        truth = LABELS[rng.integers(len(LABELS))]
        alpha = np.ones(len(LABELS))
        alpha[LABELS.index(truth)] += rng.uniform(0, 6)
        probabilities = rng.dirichlet(alpha)
        scores = {label: float(value) for label, value in zip(LABELS, probabilities, strict=True)}
        predicted = max(scores, key=scores.__getitem__)
        rows.append(
            {
                "num": num,
                "request_user": f"user{num % 7}",
                "request_time": f"2026-11-{1 + num % 20:02d}T12:00:00Z",
                "prediction_result": predicted,
                "prediction_score": scores[predicted],
                "prediction_scores": scores,
                "label": truth,
            }
        )
    return rows


def test_statistics_show_what_stats_returns_on_1000_seeded_rows(
    real_api: RealApi, open_page: OpenPage
) -> None:
    rows = seeded_rows()
    real_api.insert_rows(rows)
    stats = real_api.stats()  # what the real API answers for these rows; the page must show exactly that
    # ...and the API's counts are the rows' own (so the comparison below is not between two empty answers)
    pairs = Counter((row["label"], row["prediction_result"]) for row in rows)
    expected_matrix = np.array([[pairs[(truth, guess)] for guess in LABELS] for truth in LABELS])
    assert stats["confusion_matrix"] == expected_matrix.tolist()
    assert stats["counts"]["total"] == 1000
    per_class_api = {entry["label"]: entry for entry in stats["per_class"]}

    app = open_page("statistics", admin_token=real_api.token)  # signed in: the per-user table too
    assert_no_exception(app)
    shown = metrics(app)
    assert shown["Accuracy over all labels"] == f"{stats['accuracy']:.1%} (n=1,000)"
    assert shown["Comments"] == "1,000" and shown["Labelled and predicted"] == "1,000"

    # First tab: accuracy per true label and the confusion matrix, as a chart and as numbers.
    specs = chart_specs(app)
    assert set(specs) == {"Accuracy per true label", "Confusion matrix (counts)"}  # other tabs: lazy
    heatmap = specs["Confusion matrix (counts)"]["data"][0]
    assert plotly_array(heatmap["z"]).tolist() == stats["confusion_matrix"]
    assert heatmap["x"][3] == "😀 joy"
    numbers = next(frame.value for frame in app.dataframe if frame.value.shape == (7, 7))
    assert numbers.to_numpy().tolist() == stats["confusion_matrix"]
    accuracy_bars = specs["Accuracy per true label"]["data"][0]
    recalls = [per_class_api[label]["recall"] for label in LABELS]
    assert plotly_array(accuracy_bars["y"]).tolist() == pytest.approx(recalls)
    app.toggle(key="confusion_normalise").set_value(True).run()
    normalised = chart_specs(app)["Confusion matrix (share of each true label)"]["data"][0]
    row_totals = expected_matrix.sum(axis=1, keepdims=True)
    assert plotly_array(normalised["z"]) == pytest.approx(expected_matrix / row_totals)

    open_tab(app, "Per class")
    per_class = next(frame.value for frame in app.dataframe if "precision" in frame.value.columns)
    for label, row in zip(LABELS, per_class.head(7).itertuples(), strict=True):  # as shown: 3 decimals
        assert row.precision == f"{per_class_api[label]['precision']:.3f}"
        assert row.recall == f"{per_class_api[label]['recall']:.3f}"
        assert row.f1 == f"{per_class_api[label]['f1']:.3f}"
        assert row.support == per_class_api[label]["support"]
    assert per_class.iloc[7]["f1"] == f"{stats['macro_avg']['f1']:.3f}"  # every class has labels here
    assert per_class.iloc[8]["f1"] == f"{stats['weighted_avg']['f1']:.3f}"
    assert "Precision, recall and F1 per class" in chart_specs(app)

    open_tab(app, "One vs rest")
    one_vs_rest = app.dataframe[0].value.set_index("label")
    joy = LABELS.index("joy")
    assert one_vs_rest.loc["😀 joy", "tp"] == expected_matrix[joy, joy]
    assert one_vs_rest.loc["😀 joy", "fp"] == expected_matrix[:, joy].sum() - expected_matrix[joy, joy]

    open_tab(app, "Calibration")
    assert metrics(app)["Expected calibration error"] == f"{stats['calibration']['ece']:.3f} (n=1,000)"

    open_tab(app, "ROC & PR curves")
    specs = chart_specs(app)
    roc = specs["ROC curve per emotion (one vs rest)"]["data"]
    assert len(roc) == 1 + len(LABELS)
    assert all("AUC" in trace["name"] for trace in roc[1:])
    aucs = app.dataframe[0].value.set_index("label")["auc"]
    assert aucs["😀 joy"] == f"{stats['curves']['joy']['roc']['auc']:.3f}"

    open_tab(app, "Scores")
    assert {"Score per predicted label", "Score density per predicted label"} <= set(chart_specs(app))
    open_tab(app, "Over time")
    assert {
        "Comments per day",
        "Accuracy per day",
        "Predicted emotions per day, by model version",
    } <= set(chart_specs(app))
    open_tab(app, "Users")
    users = app.dataframe[0].value
    assert users["total"].sum() == 1000 and len(users) == 7
    # every seeded row is labelled and predicted, so each user's accuracy is over all their labels
    assert users["scored"].tolist() == users["labeled"].tolist() and users["scored"].sum() == 1000
    assert (users["correct"] <= users["scored"]).all()
    assert_no_exception(app)


@pytest.fixture
def fresh_stats_api(tmp_path: Path) -> Iterator[RealApi]:
    """The real API recomputing /stats on every request (THREEKCAL_STATS_MAX_STALENESS=0), so a test can
    change data and rerun the page at once; by default the API may answer up to 2 s old statistics."""
    with serve_api(api_settings(tmp_path, stats_max_staleness=0)) as api:
        yield api


def test_statistics_are_fresh_on_every_run(fresh_stats_api: RealApi, open_page: OpenPage) -> None:
    real_api = fresh_stats_api
    real_api.add_comment("minji", "one", scores=scores_for("joy", 0.7), label="joy")
    real_api.add_comment("minji", "two", scores=scores_for("fear", 0.7), label="joy")
    app = open_page("statistics")
    assert metrics(app)["Accuracy over all labels"] == "50.0% (n=2)"
    calls = len(real_api.calls("GET", "/stats"))
    real_api.set_label(2, "fear")
    app.run()
    assert len(real_api.calls("GET", "/stats")) == calls + 1
    assert metrics(app)["Accuracy over all labels"] == "100.0% (n=2)"
    app.text_input(key="stats_user").input("nobody").run()
    assert last_query(real_api, "/stats") == {"request_user": "nobody"}
    assert "No comments yet" in page_text(app)


def test_statistics_auto_refresh_toggle(real_api: RealApi, open_page: OpenPage) -> None:
    app = open_page("statistics")
    toggle = app.toggle(key="stats_auto")
    assert toggle.value is False and "10 s" in toggle.label
    toggle.set_value(True).run()
    assert_no_exception(app)
    assert app.toggle(key="stats_auto").value is True


def test_statistics_empty_states(fresh_stats_api: RealApi, open_page: OpenPage) -> None:
    real_api = fresh_stats_api
    app = open_page("statistics")
    assert "No comments yet" in page_text(app)
    assert metrics(app)["Accuracy over all labels"] == "— (n=0)"

    real_api.add_comment("minji", "pending")
    real_api.add_comment("minji", "predicted", scores=scores_for("joy", 0.8))
    app.run()
    assert_no_exception(app)
    assert "accuracy cannot be measured" in page_text(app)
    assert [tab.label for tab in app.tabs] == ["Scores", "Over time", "Users"]

    real_api.set_label(2, "joy")
    app.run()
    assert_no_exception(app)
    assert "same true label" in page_text(app)
    assert metrics(app)["Accuracy over all labels"] == "100.0% (n=1)"
    assert "Accuracy & confusion" in [tab.label for tab in app.tabs]


@pytest.mark.parametrize("page", ["home", "upload", "label", "statistics"])
def test_every_page_renders_in_korean(
    page: str, labelled_api: RealApi, open_page: OpenPage, monkeypatch: pytest.MonkeyPatch
) -> None:
    labelled_api.set_label(1, "joy")
    labelled_api.set_label(3, "anger")
    monkeypatch.setenv("THREEKCAL_LANG", "ko")
    app = open_page(page, admin_token=labelled_api.token)
    assert_no_exception(app)
    title = {
        "home": "ThreeKcal: 이 글은",
        "upload": "텍스트 업로드",
        "label": "코멘트 라벨",
        "statistics": "결과 통계",
    }
    assert app.title[0].value.startswith(title[page])
    english = [
        text for text in ("Waiting", "Comment", "Accuracy", "Log in", "Submit") if text in page_text(app)
    ]
    assert english == []
    if page == "statistics":
        for tab in ("클래스별", "일대다", "보정", "ROC·PR 곡선", "점수 분포", "시간별", "사용자별"):
            app.session_state["stats_tab_ko"] = tab
            app.run()
            assert_no_exception(app)


def test_label_reuses_the_user_list_for_a_minute(labelled_api: RealApi, open_page: OpenPage) -> None:
    app = open_page("label", admin_token=labelled_api.token)
    app.run()
    app.run()
    assert len(labelled_api.calls("GET", "/users")) == 1
    assert len(labelled_api.calls("GET", "/comments")) == 3
