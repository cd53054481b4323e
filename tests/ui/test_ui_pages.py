"""Every page under AppTest, with the API faked at the HTTP boundary, and with the API down."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pytest
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix
from streamlit.testing.v1 import AppTest
from ui_fake_api import FakeApi, stats_from_rows

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


def last_query(api: FakeApi, path: str) -> dict[str, str]:
    return dict(api.calls("GET", path)[-1].url.params)


# ----------------------------------------------------------------------------------- API down
@pytest.mark.parametrize("page", ["home", "upload", "label", "statistics"])
def test_every_page_explains_an_unreachable_api_and_retries(
    page: str, api_down: list[Any], open_page: OpenPage, fake_api_later: Callable[[], FakeApi]
) -> None:
    app = open_page(page, admin_token=FakeApi().token)
    assert_no_exception(app)
    if page == "upload":  # nothing to fetch until something is sent
        app.text_input(key="upload_user").input("minji")
        app.text_area(key="upload_text").input("Is anyone there?")
        app.button[0].click().run()
        assert app.text_area(key="upload_text").value == "Is anyone there?"  # kept for the next try
    errors = [error.value for error in app.error]
    assert errors, page
    assert "cannot be reached" in errors[0] and "http://threekcal-api.test" in errors[0]
    assert api_down, "the page did try the API"
    if page != "upload":
        retry = next(button for button in app.button if button.label == "Retry")
        fake_api_later()
        retry.click().run()
        assert_no_exception(app)
        assert not any("cannot be reached" in error.value for error in app.error)


@pytest.fixture
def fake_api_later() -> Callable[[], FakeApi]:
    """Bring the API back (a fake one) in the middle of a test."""

    def bring_back() -> FakeApi:
        api = FakeApi()
        client.set_transport_factory(api.transport)
        return api

    return bring_back


# ---------------------------------------------------------------------------------------- home
def test_home_explains_draws_the_flow_and_shows_pipeline_status(
    fake_api: FakeApi, open_page: OpenPage
) -> None:
    fake_api.add_comment("minji", "waiting one")
    fake_api.add_comment("minji", "waiting two")
    fake_api.pipeline_payload.update(
        last_predict={"run_id": "20260101T000000-abc", "records": 42, "created_at": "2026-01-01T00:00:00Z"},
        unapplied_logs=1,
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
    fake_api: FakeApi, open_page: OpenPage, monkeypatch: pytest.MonkeyPatch
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
def test_upload_shows_limits_and_checks_input_before_sending(fake_api: FakeApi, open_page: OpenPage) -> None:
    app = open_page("upload")
    assert "1 to 64 characters" in page_text(app) and "1 to 2000 characters" in page_text(app)
    assert app.text_input(key="upload_user").proto.max_chars == 64
    assert app.text_area(key="upload_text").proto.max_chars == 2000
    app.text_input(key="upload_user").input("bad\tname")
    app.text_area(key="upload_text").input("   ")
    app.button[0].click().run()
    errors = [error.value for error in app.error]
    assert any("control characters" in error for error in errors)
    assert "Enter a comment." in errors
    assert fake_api.calls("POST", "/comments") == []


def test_upload_submits_then_shows_the_prediction_when_it_arrives(
    fake_api: FakeApi, open_page: OpenPage
) -> None:
    app = open_page("upload")
    app.text_input(key="upload_user").input("minji")
    app.text_area(key="upload_text").input("I love rainy days")
    app.button[0].click().run()
    assert_no_exception(app)
    (created,) = fake_api.calls("POST", "/comments")
    assert json.loads(created.content) == {"request_user": "minji", "comments": "I love rainy days"}
    assert "Comment #1 received" in page_text(app)
    assert "Waiting for the prediction" in page_text(app)
    assert app.text_area(key="upload_text").value == ""  # ready for the next comment
    assert app.text_input(key="upload_user").value == "minji"

    fake_api.predict(1, scores_for("joy", 0.83))
    app.run()
    text = page_text(app)
    assert "😀 joy" in text and "Waiting for the prediction" not in text
    assert app.get("progress")[0].proto.value == 83
    probabilities = plotly_specs(app)[0]["data"][0]
    assert max(plotly_array(probabilities["x"])) == pytest.approx(0.83)
    recent = app.dataframe[0].value
    assert recent["num"].tolist() == [1] and recent["prediction"].tolist() == ["😀 joy"]
    receipt_calls = [request for request in fake_api.requests if "/by-receipt/" in request.url.path]
    assert receipt_calls, "the page polls by receipt"
    assert all("Authorization" not in request.headers for request in fake_api.requests)

    polls = len(receipt_calls)
    app.run()  # predicted: nothing left to poll
    assert len([request for request in fake_api.requests if "/by-receipt/" in request.url.path]) == polls


def test_upload_lists_only_this_users_submissions(fake_api: FakeApi, open_page: OpenPage) -> None:
    app = open_page("upload")
    for user, text in (("minji", "first"), ("jisoo", "second"), ("minji", "third")):
        app.text_input(key="upload_user").input(user)
        app.text_area(key="upload_text").input(text)
        app.button[0].click().run()
    assert app.dataframe[0].value["comment"].tolist() == ["third", "first"]
    assert "Your recent comments (minji)" in [header.value for header in app.subheader]


def test_upload_reports_a_refused_submission(fake_api: FakeApi, open_page: OpenPage) -> None:
    def too_large(request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        return httpx.Response(413, json={"detail": "Request body is larger than 65536 bytes"})

    fake_api.routes.insert(0, ("POST", re.compile("/comments"), too_large, False))
    app = open_page("upload")
    app.text_input(key="upload_user").input("minji")
    app.text_area(key="upload_text").input("hello")
    app.button[0].click().run()
    assert_no_exception(app)
    assert any("error 413" in error.value and "65536" in error.value for error in app.error)


# --------------------------------------------------------------------------------------- label
@pytest.fixture
def labelled_api(fake_api: FakeApi) -> FakeApi:
    fake_api.add_comment("minji", "I love rain", scores=scores_for("joy", 0.9))
    fake_api.add_comment("jisoo", "rain again, great", scores=scores_for("joy", 0.4))
    fake_api.add_comment("minji", "that is disgusting", scores=scores_for("disgust", 0.6))
    fake_api.add_comment("jisoo", "not predicted yet")
    return fake_api


def log_in(app: AppTest, token: str) -> AppTest:
    app.text_input(key="login_token").input(token)
    return app.button[0].click().run()


def test_label_needs_the_admin_token(labelled_api: FakeApi, open_page: OpenPage) -> None:
    app = open_page("label")
    assert "Log in with the admin token" in page_text(app)
    assert len(app.dataframe) == 0
    log_in(app, "wrong-token-000000000")
    assert any("not accepted" in error.value for error in app.error)
    assert "admin_token" not in app.session_state
    log_in(app, labelled_api.token)
    assert_no_exception(app)
    assert app.session_state["admin_token"] == labelled_api.token
    assert len(app.dataframe) >= 1


def test_label_lists_least_confident_first_and_saves_a_label(
    labelled_api: FakeApi, open_page: OpenPage
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


def test_label_filters_are_sent_to_the_api(labelled_api: FakeApi, open_page: OpenPage) -> None:
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
    labelled_api: FakeApi, open_page: OpenPage
) -> None:
    app = open_page("label", admin_token=labelled_api.token)
    app.multiselect(key="label_selected").select(1).select(3).select(4).run()
    accept = next(button for button in app.button if button.label.startswith("Accept prediction"))
    assert accept.label == "Accept prediction (3)"
    accept.click().run()
    (accepted,) = labelled_api.calls("POST", "/labels/accept")
    assert sorted(json.loads(accepted.content)["nums"]) == [1, 3, 4]
    assert "Accepted the prediction of 2 comments (1 skipped" in page_text(app)
    assert labelled_api.comments[3]["label"] == "disgust"

    next(button for button in app.button if button.label == "Undo last change").click().run()
    assert len(labelled_api.calls("POST", "/labels/undo")) == 1
    assert labelled_api.comments[3]["label"] is None
    assert "Undone: comment #3" in page_text(app)

    app.selectbox(key="label_edit_num").select(3).run()
    history = app.dataframe[-1].value
    assert history["action"].tolist() == ["undo", "accepted prediction"]

    app.session_state["label_selected"] = []
    next(button for button in app.button if button.label == "Undo last change").click().run()
    next(button for button in app.button if button.label == "Undo last change").click().run()
    next(button for button in app.button if button.label == "Undo last change").click().run()
    assert "There is no change to undo." in page_text(app)


def test_label_pages_with_the_keyset_cursor(fake_api: FakeApi, open_page: OpenPage) -> None:
    for index in range(60):
        fake_api.add_comment(
            f"user{index % 3}", f"comment {index}", scores=scores_for("joy", 0.2 + index / 100)
        )
    app = open_page("label", admin_token=fake_api.token)
    assert len(app.dataframe[0].value) == 50
    previous = next(button for button in app.button if button.label == "Previous")
    assert previous.disabled
    next(button for button in app.button if button.label == "Next").click().run()
    assert last_query(fake_api, "/comments")["cursor"] == "50"
    assert app.dataframe[0].value["num"].tolist() == list(range(51, 61))
    assert next(button for button in app.button if button.label == "Next").disabled
    next(button for button in app.button if button.label == "Previous").click().run()
    assert "cursor" not in last_query(fake_api, "/comments")
    assert len(app.dataframe[0].value) == 50


def test_label_logs_out_when_the_token_stops_working(labelled_api: FakeApi, open_page: OpenPage) -> None:
    app = open_page("label", admin_token=labelled_api.token)
    labelled_api.token = "rotated-token-0123456789"
    app.run()
    assert_no_exception(app)
    assert "admin_token" not in app.session_state
    assert any("not accepted" in error.value for error in app.error)
    assert "Log in with the admin token" in page_text(app)


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
    fake_api: FakeApi, open_page: OpenPage
) -> None:
    rows = seeded_rows()
    fake_api.stats_payload = stats_from_rows(rows)
    y_true = [row["label"] for row in rows]
    y_pred = [row["prediction_result"] for row in rows]
    expected_matrix = confusion_matrix(y_true, y_pred, labels=list(LABELS))
    report = classification_report(y_true, y_pred, labels=list(LABELS), zero_division=0, output_dict=True)

    app = open_page("statistics")
    assert_no_exception(app)
    shown = metrics(app)
    assert shown["Accuracy"] == f"{accuracy_score(y_true, y_pred):.1%}"
    assert shown["Comments"] == "1,000" and shown["Labelled and predicted"] == "1,000"

    # First tab: accuracy per true label and the confusion matrix, as a chart and as numbers.
    specs = chart_specs(app)
    assert set(specs) == {"Accuracy per true label", "Confusion matrix (counts)"}  # other tabs: lazy
    heatmap = specs["Confusion matrix (counts)"]["data"][0]
    assert plotly_array(heatmap["z"]).tolist() == expected_matrix.tolist()
    assert heatmap["x"][3] == "😀 joy"
    numbers = next(frame.value for frame in app.dataframe if frame.value.shape == (7, 7))
    assert numbers.to_numpy().tolist() == expected_matrix.tolist()
    accuracy_bars = specs["Accuracy per true label"]["data"][0]
    recalls = [report[label]["recall"] for label in LABELS]
    assert plotly_array(accuracy_bars["y"]).tolist() == pytest.approx(recalls)
    app.toggle(key="confusion_normalise").set_value(True).run()
    normalised = chart_specs(app)["Confusion matrix (share of each true label)"]["data"][0]
    row_totals = expected_matrix.sum(axis=1, keepdims=True)
    assert plotly_array(normalised["z"]) == pytest.approx(expected_matrix / row_totals)

    open_tab(app, "Per class")
    per_class = next(frame.value for frame in app.dataframe if "precision" in frame.value.columns)
    for label, row in zip(LABELS, per_class.head(7).itertuples(), strict=True):
        assert row.precision == pytest.approx(report[label]["precision"])
        assert row.recall == pytest.approx(report[label]["recall"])
        assert row.f1 == pytest.approx(report[label]["f1-score"])
        assert row.support == report[label]["support"]
    assert per_class.iloc[7]["f1"] == pytest.approx(report["macro avg"]["f1-score"])
    assert per_class.iloc[8]["f1"] == pytest.approx(report["weighted avg"]["f1-score"])
    assert "Precision, recall and F1 per class" in chart_specs(app)

    open_tab(app, "One vs rest")
    one_vs_rest = app.dataframe[0].value.set_index("label")
    joy = LABELS.index("joy")
    assert one_vs_rest.loc["😀 joy", "tp"] == expected_matrix[joy, joy]
    assert one_vs_rest.loc["😀 joy", "fp"] == expected_matrix[:, joy].sum() - expected_matrix[joy, joy]

    open_tab(app, "Calibration")
    assert metrics(app)["Expected calibration error"] == f"{fake_api.stats_payload['calibration']['ece']:.3f}"

    open_tab(app, "ROC & PR curves")
    specs = chart_specs(app)
    roc = specs["ROC curve per emotion (one vs rest)"]["data"]
    assert len(roc) == 1 + len(LABELS)
    assert all("AUC" in trace["name"] for trace in roc[1:])
    aucs = app.dataframe[0].value.set_index("label")["auc"]
    assert aucs["😀 joy"] == pytest.approx(fake_api.stats_payload["curves"]["joy"]["roc"]["auc"])

    open_tab(app, "Scores")
    assert {"Score per predicted label", "Score density per predicted label"} <= set(chart_specs(app))
    open_tab(app, "Over time")
    assert {"Comments per day", "Predicted emotions per day"} <= set(chart_specs(app))
    open_tab(app, "Users")
    users = app.dataframe[0].value
    assert users["total"].sum() == 1000 and len(users) == 7
    assert_no_exception(app)


def test_statistics_are_fresh_on_every_run(fake_api: FakeApi, open_page: OpenPage) -> None:
    fake_api.add_comment("minji", "one", scores=scores_for("joy", 0.7), label="joy")
    fake_api.add_comment("minji", "two", scores=scores_for("fear", 0.7), label="joy")
    app = open_page("statistics")
    assert metrics(app)["Accuracy"] == "50.0%"
    calls = len(fake_api.calls("GET", "/stats"))
    fake_api.comments[2]["label"] = "fear"
    app.run()
    assert len(fake_api.calls("GET", "/stats")) == calls + 1
    assert metrics(app)["Accuracy"] == "100.0%"
    app.text_input(key="stats_user").input("nobody").run()
    assert last_query(fake_api, "/stats") == {"request_user": "nobody"}
    assert "No comments yet" in page_text(app)


def test_statistics_auto_refresh_toggle(fake_api: FakeApi, open_page: OpenPage) -> None:
    app = open_page("statistics")
    toggle = app.toggle(key="stats_auto")
    assert toggle.value is False and "10 s" in toggle.label
    toggle.set_value(True).run()
    assert_no_exception(app)
    assert app.toggle(key="stats_auto").value is True


def test_statistics_empty_states(fake_api: FakeApi, open_page: OpenPage) -> None:
    app = open_page("statistics")
    assert "No comments yet" in page_text(app)
    assert metrics(app)["Accuracy"] == "—"

    fake_api.add_comment("minji", "pending")
    fake_api.add_comment("minji", "predicted", scores=scores_for("joy", 0.8))
    app.run()
    assert_no_exception(app)
    assert "accuracy cannot be measured" in page_text(app)
    assert [tab.label for tab in app.tabs] == ["Scores", "Over time", "Users"]

    fake_api.comments[2]["label"] = "joy"
    app.run()
    assert_no_exception(app)
    assert "same true label" in page_text(app)
    assert metrics(app)["Accuracy"] == "100.0%"
    assert "Accuracy & confusion" in [tab.label for tab in app.tabs]


@pytest.mark.parametrize("page", ["home", "upload", "label", "statistics"])
def test_every_page_renders_in_korean(
    page: str, labelled_api: FakeApi, open_page: OpenPage, monkeypatch: pytest.MonkeyPatch
) -> None:
    labelled_api.comments[1]["label"] = "joy"
    labelled_api.comments[3]["label"] = "anger"
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


def test_label_reuses_the_user_list_for_a_minute(labelled_api: FakeApi, open_page: OpenPage) -> None:
    app = open_page("label", admin_token=labelled_api.token)
    app.run()
    app.run()
    assert len(labelled_api.calls("GET", "/users")) == 1
    assert len(labelled_api.calls("GET", "/comments")) == 3
