"""Issue 10 under AppTest against the real API in-process: the Label table's selection rules, the bulk
preview, a failed save, the export buttons; the upload page's input limits; the API banner; polish."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from streamlit.testing.v1 import AppTest
from ui_api import RealApi

from threekcal.cli.server import streamlit_command
from threekcal.db import accounts
from threekcal.db.session import session_factory
from threekcal.emotions import LABELS
from threekcal.ui import client, logic, table_flow
from threekcal.ui.i18n import STRINGS, translate
from threekcal.ui.logic import LabelFilters

OpenPage = Callable[..., AppTest]
PICKED = "✔"


def scores_for(top: str, confidence: float) -> dict[str, float]:
    rest = (1 - confidence) / (len(LABELS) - 1)
    return {label: confidence if label == top else rest for label in LABELS}


def page_text(app: AppTest) -> str:
    parts = [element.value for kind in ("title", "markdown", "caption", "info", "warning", "success", "error")
             for element in getattr(app, kind)]  # fmt: skip
    return "\n".join(str(part) for part in parts)


def assert_no_exception(app: AppTest) -> None:
    assert [exception.value for exception in app.exception] == []


def button(app: AppTest, label: str) -> Any:
    return next(widget for widget in app.button if widget.label.startswith(label))


@pytest.fixture
def four(real_api: RealApi) -> RealApi:
    """#1 joy 0.9, #2 joy 0.4, #3 disgust 0.6, #4 not predicted; least confident first: 2, 3, 1, 4."""
    real_api.add_comment("minji", "I love rain", scores=scores_for("joy", 0.9))
    real_api.add_comment("jisoo", "rain again, great", scores=scores_for("joy", 0.4))
    real_api.add_comment("minji", "that is\ndisgusting", scores=scores_for("disgust", 0.6))
    real_api.add_comment("jisoo", "not predicted yet")
    return real_api


def picked(app: AppTest) -> dict[int, str]:
    table = app.dataframe[0].value
    return dict(zip(table["num"].tolist(), table["picked"].tolist(), strict=True))


# ------------------------------------------------------------------------------------- selection
def test_bulk_selection_is_kept_by_number_across_a_new_order_and_cleared_after_accept_and_undo(
    four: RealApi, open_page: OpenPage
) -> None:
    four.set_label(1, "anger")  # a person's label: bulk accept must not replace it
    app = open_page("label", admin_token=four.token)
    assert app.dataframe[0].value["num"].tolist() == [2, 3, 1, 4]
    app.multiselect(key="label_selected").select(2).select(3).run()
    assert picked(app) == {2: PICKED, 3: PICKED, 1: "", 4: ""}
    assert [info.value for info in app.info] == ["Accepting labels #2, #3 with their prediction."]

    app.selectbox(key="lf_sort").select("newest").run()  # other rows at the picked positions now
    assert app.dataframe[0].value["num"].tolist() == [4, 3, 2, 1]
    assert app.multiselect(key="label_selected").value == [2, 3]
    assert picked(app) == {4: "", 3: PICKED, 2: PICKED, 1: ""}

    app.multiselect(key="label_selected").select(4).select(1).run()
    assert [info.value for info in app.info] == [
        "Accepting labels #2, #3 with their prediction. Skipped: #4 (no prediction yet); "
        "#1 (labelled by a person: admin, 🤬 anger)."
    ]
    accept = button(app, "Accept prediction")
    assert accept.label == "Accept prediction (4)"
    accept.click().run()
    assert_no_exception(app)
    (sent,) = four.calls("POST", "/labels/accept")
    assert json.loads(sent.content)["nums"] == [2, 3, 4, 1]
    assert "Accepted the prediction of 2 comments. Skipped: #4 (no prediction yet); #1 (has a label set" in (
        page_text(app)
    )
    assert [four.comment(num)["label"] for num in (1, 2, 3, 4)] == ["anger", "joy", "disgust", None]
    # nothing is picked after a bulk action: not the accepted rows, not the rows now at their positions
    assert app.multiselect(key="label_selected").value == []
    assert set(picked(app).values()) == {""}
    assert button(app, "Accept prediction").label == "Accept prediction (0)"
    assert button(app, "Accept prediction").disabled

    app.multiselect(key="label_selected").select(4).run()
    assert button(app, "Accept prediction").label == "Accept prediction (1)"
    button(app, "Undo last change").click().run()
    assert app.multiselect(key="label_selected").value == []  # cleared after undo too
    assert four.comment(3)["label"] is None  # the last change (accepting #3, after #2) was undone


def test_a_row_click_opens_the_comment_in_the_editor_without_picking_it(
    four: RealApi, open_page: OpenPage
) -> None:
    app = open_page("label", admin_token=four.token)
    table = app.dataframe[0]
    assert app.selectbox(key="label_edit_num").value == 2  # the first row, by default
    # what a click on the third row sends (AppTest cannot click a table row)
    app.session_state[table.key] = {"selection": {"rows": [2], "columns": [], "cells": []}}
    app.run()
    assert_no_exception(app)
    assert app.selectbox(key="label_edit_num").value == 1  # rows: 2, 3, 1, 4
    assert app.multiselect(key="label_selected").value == []  # opened, not picked
    assert set(picked(app).values()) == {""}
    # the picker joins the comment's lines with spaces
    assert "#3 · that is disgusting" in app.selectbox(key="label_edit_num").options
    # choosing another comment in the editor is not overruled by the row still highlighted
    app.selectbox(key="label_edit_num").select(3).run()
    assert app.selectbox(key="label_edit_num").value == 3
    app.run()
    assert app.selectbox(key="label_edit_num").value == 3


# ------------------------------------------------------------------------------------ failed save
class FailingWrites(httpx.BaseTransport):
    """The real API, except that label writes answer 500 (the real one cannot be made to)."""

    def __init__(self, real: httpx.BaseTransport) -> None:
        self.real = real

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            return httpx.Response(500, json={"detail": "Internal Server Error"}, request=request)
        return self.real.handle_request(request)


def refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused", request=request)


def type_a_label(app: AppTest) -> None:
    app.selectbox(key="edit_label_2").select("surprise")
    app.text_input(key="edit_remark_2").input("sarcasm, not joy")


def test_a_refused_save_keeps_what_was_typed_and_says_so_once(four: RealApi, open_page: OpenPage) -> None:
    app = open_page("label", admin_token=four.token)
    type_a_label(app)
    client.set_transport_factory(lambda: FailingWrites(four.transport()))
    button(app, "Save").click().run()
    assert_no_exception(app)
    errors = [error.value for error in app.error]
    assert errors == ["The API failed to answer (error 500): Internal Server Error. Retry in a moment."]
    assert app.selectbox(key="edit_label_2").value == "surprise"
    assert app.text_input(key="edit_remark_2").value == "sarcasm, not joy"
    assert four.comment(2)["label"] is None


def test_a_save_while_the_api_is_down_shows_one_banner_and_the_typing_comes_back(
    four: RealApi, open_page: OpenPage
) -> None:
    app = open_page("label", admin_token=four.token)
    type_a_label(app)
    client.set_transport_factory(lambda: httpx.MockTransport(refuse))
    button(app, "Save").click().run()
    assert_no_exception(app)
    errors = [error.value for error in app.error]
    assert len(errors) == 1 and errors[0].startswith("The API is restarting or unreachable, retrying…")
    assert "edit_label_2" not in [widget.key for widget in app.selectbox]  # no list, no editor

    client.set_transport_factory(four.transport)  # the API is back
    button(app, "Retry").click().run()
    assert_no_exception(app)
    assert app.error.values == []
    assert app.selectbox(key="edit_label_2").value == "surprise"
    assert app.text_input(key="edit_remark_2").value == "sarcasm, not joy"
    button(app, "Save").click().run()
    assert four.comment(2)["label"] == "surprise" and four.comment(2)["remark"] == "sarcasm, not joy"


# ---------------------------------------------------------------------------------------- export
def test_the_export_buttons_download_every_comment_of_the_current_filters(
    four: RealApi, open_page: OpenPage
) -> None:
    app = open_page("label", admin_token=four.token)
    assert [button.proto.label for button in app.get("download_button")] == ["Export CSV", "Export JSONL"]
    app.selectbox(key="lf_user").select("jisoo").run()
    listed = four.calls("GET", "/comments")[-1].url.params
    filters = LabelFilters.from_widgets(
        request_user="jisoo",
        status="all",
        prediction_result=None,
        label=None,
        score_range=(0.0, 1.0),
        q="",
        sort="least_confident",
    )
    jsonl = table_flow.export_action(four.token, filters, "jsonl")()
    rows = [json.loads(line) for line in jsonl.decode().splitlines()]
    assert [(row["num"], row["request_user"], row["comments"]) for row in rows] == [
        (2, "jisoo", "rain again, great"),
        (4, "jisoo", "not predicted yet"),
    ]
    (sent,) = four.calls("GET", "/comments/export")
    exported = dict(sent.url.params)
    assert exported.pop("format") == "jsonl"
    assert exported == {name: value for name, value in listed.items() if name not in ("limit", "with_total")}
    assert sent.headers["Authorization"] == f"Bearer {four.token}"

    csv_text = table_flow.export_action(four.token, filters, "csv")().decode()
    table = list(csv.DictReader(io.StringIO(csv_text)))
    assert [row["num"] for row in table] == ["2", "4"]
    assert table[0]["prediction_result"] == "joy" and table[1]["prediction_result"] == ""


def test_an_annotator_gets_no_export_button(four: RealApi, open_page: OpenPage) -> None:
    with session_factory(four.settings.database_url)() as session:
        accounts.create_user(session, "ana", role="annotator", password="ana-password-1")
    app = open_page("label")
    app.text_input(key="login_username").input("ana")
    app.text_input(key="login_password").input("ana-password-1")
    button(app, "Log in").click().run()
    assert_no_exception(app)
    assert len(app.dataframe) >= 1
    assert app.get("download_button") == []  # GET /comments/export is an admin's (api/policy.py)


# -------------------------------------------------------------------------------------- upload
LONG_TEXT = "비" * 2989 + " rainy days"  # 3,000 characters, pasted with a leading space


def submit(app: AppTest) -> AppTest:
    return app.button(key="upload_submit").click().run()


def test_3000_characters_are_refused_with_a_message_and_stay_in_the_box(
    real_api: RealApi, open_page: OpenPage
) -> None:
    app = open_page("upload")
    app.text_area(key="upload_user").input("minji")
    app.text_area(key="upload_text").input(" " + LONG_TEXT)
    submit(app)
    assert_no_exception(app)
    assert app.text_area(key="upload_text").value == " " + LONG_TEXT  # nothing cut, nothing dropped
    assert [error.value for error in app.error] == [
        "The comment has 3000 characters; at most 2000 are allowed."
    ]
    assert ":red[3,000 / 2,000 characters: 1,000 too many]" in [caption.value for caption in app.caption]
    assert real_api.calls("POST", "/comments") == []


def test_a_long_username_and_a_line_break_are_refused_not_changed(
    real_api: RealApi, open_page: OpenPage
) -> None:
    app = open_page("upload")
    app.text_area(key="upload_user").input("m" * 100)
    app.text_area(key="upload_text").input("hello")
    submit(app)
    assert [error.value for error in app.error] == [
        "The username has 100 characters; at most 64 are allowed."
    ]
    assert app.text_area(key="upload_user").value == "m" * 100
    assert ":red[100 / 64 characters: 36 too many]" in [caption.value for caption in app.caption]

    app.text_area(key="upload_user").input("min\nji")
    submit(app)
    assert [error.value for error in app.error] == ["The username must be one line: remove the line break."]
    assert app.text_area(key="upload_user").value == "min\nji"
    assert app.text_area(key="upload_text").value == "hello"
    assert real_api.calls("POST", "/comments") == []

    app.text_area(key="upload_user").input("minji")
    submit(app)
    (sent,) = real_api.calls("POST", "/comments")
    assert json.loads(sent.content) == {"request_user": "minji", "comments": "hello"}


def test_the_counts_measure_as_the_api_does() -> None:
    """The upload page's counts and the API's refusals come from threekcal.validation alone."""
    assert logic.input_count(2000, 2000) == ("upload_count", {"length": 2000, "limit": 2000})
    assert logic.validate_submission("minji", "x" * 2000) == []
    assert logic.validate_submission("minji", "x" * 2001) == [
        ("err_comment_too_long", {"length": 2001, "limit": 2000})
    ]
    assert logic.validate_submission("m" * 64, "ok") == []
    assert logic.validate_submission("a\u2028b", "ok") == [("err_user_newline", {})]
    assert logic.validate_submission("a\tb", "ok") == [("err_user_control", {})]


# ------------------------------------------------------------------------------------------ banner
@pytest.mark.parametrize("page", ["label", "statistics", "home"])
def test_an_unreachable_api_is_one_banner_not_a_connection_error(
    page: str, api_down: list[Any], open_page: OpenPage
) -> None:
    app = open_page(page, admin_token="some-token")
    assert_no_exception(app)
    errors = [error.value for error in app.error]
    assert len(errors) == 1, errors
    assert errors[0].startswith("The API is restarting or unreachable, retrying… (http://threekcal-api.test")


# ------------------------------------------------------------------------------------------ polish
def test_the_korean_limits_caption_has_no_tilde(
    real_api: RealApi, open_page: OpenPage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THREEKCAL_LANG", "ko")
    app = open_page("upload")
    caption = next(caption.value for caption in app.caption if "사용자 이름:" in caption.value)
    assert "~" not in caption and "64자 이하" in caption and "2000자 이하" in caption


def test_one_spelling_of_labelled_in_the_english_text() -> None:
    american = re.compile(r"\b(un)?label(ed|ing)\b", re.IGNORECASE)
    assert [key for key, text in STRINGS.items() if american.search(text["en"])] == []
    assert translate("status_unlabeled", "en") == "Unlabelled"


def test_the_web_app_starts_with_the_toolbar_in_viewer_mode(real_api: RealApi, open_page: OpenPage) -> None:
    command = streamlit_command("127.0.0.1", 8501)
    assert command[command.index("--client.toolbarMode") + 1] == "viewer"
    open_page("home")
    from streamlit import config

    assert config.get_option("client.toolbarMode") == "viewer"


def test_computed_times_use_the_viewers_zone_even_outside_a_full_run() -> None:
    moment = "2026-11-30T00:00:00Z"
    logic.use_timezone_source(lambda: "Asia/Seoul")
    try:
        assert logic.format_time(moment) == "2026-11-30 09:00:00 KST"
    finally:
        logic.use_timezone_source(None)
    assert logic.format_time(moment) == "2026-11-30 00:00:00 UTC"


def test_times_are_shown_in_the_browsers_zone_on_every_part_of_a_page(four: RealApi) -> None:
    from ui_api import APP_PATH

    app = AppTest.from_file(str(APP_PATH), default_timeout=30)
    app.context = {"timezone": "Asia/Seoul"}
    app.session_state["admin_token"] = four.token
    app.run()
    app.switch_page("screens/label.py").run()
    assert_no_exception(app)
    sent = app.dataframe[0].value["request_time"].tolist()
    assert sent and all(value.endswith(" KST") for value in sent)
    assert re.search(r"\*\*jisoo\*\* · \d{4}-\d\d-\d\d \d\d:\d\d:\d\d KST", page_text(app))


def test_a_failed_accept_keeps_the_picks_for_a_retry(four: RealApi, open_page: OpenPage) -> None:
    app = open_page("label", admin_token=four.token)
    app.multiselect(key="label_selected").select(2).run()
    client.set_transport_factory(lambda: httpx.MockTransport(refuse))
    button(app, "Accept prediction").click().run()
    assert len(app.error) == 1
    client.set_transport_factory(four.transport)
    app.run()
    assert app.multiselect(key="label_selected").value == [2]
    button(app, "Accept prediction").click().run()
    assert app.multiselect(key="label_selected").value == []
    assert four.comment(2)["label"] == "joy"
