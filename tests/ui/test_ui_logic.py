"""The web app's logic without Streamlit: the API client, input checks, strings, tables and paging."""

from __future__ import annotations

import json
import re
import string
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from ui_api import API_URL, RealApi, api_settings, assert_routes_exist, serve_api

import threekcal.ui
from threekcal.emotions import LABELS
from threekcal.ui import client as client_module
from threekcal.ui.client import ApiClient, ApiError, ApiUnavailable
from threekcal.ui.i18n import LANGUAGES, STRINGS, translate
from threekcal.ui.logic import (
    CursorPager,
    LabelFilters,
    comments_frame,
    format_time,
    pending_receipts,
    run_rows,
    set_display_timezone,
    validate_remark,
    validate_submission,
)

UI_DIR = Path(threekcal.ui.__file__).parent


def make_client(handler, **kwargs) -> ApiClient:
    """A client whose every request goes to ``handler``: a stand-in that only fails (down, 5xx)."""
    return ApiClient("http://api.test", transport=httpx.MockTransport(handler), **kwargs)


def real_client(api: RealApi, **kwargs) -> ApiClient:
    return ApiClient(API_URL, transport=api.transport(), **kwargs)


# ------------------------------------------------------------------------------------ client
def test_client_sends_token_and_clean_query_parameters(real_api: RealApi) -> None:
    for text in ("one", "two", "three"):
        real_api.add_comment("minji", text, scores={label: 1 / 7 for label in LABELS} | {"joy": 0.4})
    with real_client(real_api, token=real_api.token) as api:
        first = api.list_comments({"labeled": False, "q": "", "prediction_result": "joy"}, limit=2)
        second = api.list_comments(
            {"labeled": False, "q": "", "prediction_result": "joy", "min_score": None},
            cursor=first["next_cursor"],
            limit=2,
            with_total=True,
        )
    request = real_api.requests[-1]
    assert request.headers["Authorization"] == f"Bearer {real_api.token}"
    assert dict(request.url.params) == {
        "labeled": "false",
        "prediction_result": "joy",
        "cursor": first["next_cursor"],
        "limit": "2",
        "with_total": "true",
    }
    assert [len(first["items"]), len(second["items"]), second["total"]] == [2, 1, 3]
    assert {item["num"] for item in first["items"] + second["items"]} == {1, 2, 3}


def test_client_without_token_sends_no_authorization(real_api: RealApi) -> None:
    with real_client(real_api) as api:
        created = api.submit("minji", "hello")
    assert "Authorization" not in real_api.requests[0].headers
    assert json.loads(real_api.requests[0].content) == {"request_user": "minji", "comments": "hello"}
    assert real_api.comment(created["num"])["comments"] == "hello"


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("Connection refused"),
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("eof"),
    ],
)
def test_network_failures_become_api_unavailable(error: Exception, openapi_routes) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        raise error

    with make_client(handler) as api, pytest.raises(ApiUnavailable) as caught:
        api.stats()
    assert caught.value.base_url == "http://api.test"
    assert_routes_exist(sent, openapi_routes)


def test_503_is_unavailable_with_the_api_detail(tmp_path: Path) -> None:
    """The real API on a database it cannot open answers 503 with the reason."""
    settings = api_settings(tmp_path).model_copy(update={"database_url": f"sqlite:///{tmp_path}"})
    unavailable = pytest.raises(ApiUnavailable, match="Database unavailable")
    with serve_api(settings) as real_api, real_client(real_api) as api, unavailable:
        api.stats()


def test_validation_errors_are_readable(real_api: RealApi) -> None:
    with real_client(real_api) as api, pytest.raises(ApiError) as caught:
        api.submit("a", " ")
    assert caught.value.status == 422
    assert caught.value.detail.startswith("comments: ") and "{" not in caught.value.detail


def test_non_json_error_bodies_keep_their_text(openapi_routes) -> None:
    """A proxy in front of the API answering 502 (a stand-in: the real API never answers so)."""
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(502, text="Bad gateway from the proxy")

    with make_client(handler) as api, pytest.raises(ApiError) as caught:
        api.stats()
    assert (caught.value.status, caught.value.detail) == (502, "Bad gateway from the proxy")
    assert_routes_exist(sent, openapi_routes)


def test_transport_factory_reaches_clients_built_later(
    monkeypatch: pytest.MonkeyPatch, real_api: RealApi
) -> None:
    monkeypatch.setenv("THREEKCAL_API_URL", "http://configured.test:9000/")
    client_module.set_transport_factory(real_api.transport)
    try:
        with ApiClient() as api:
            assert api.health()["status"] == "ok"
    finally:
        client_module.set_transport_factory(None)
    assert [str(request.url) for request in real_api.requests] == ["http://configured.test:9000/health"]


# ------------------------------------------------------------------------------ input checks
@pytest.mark.parametrize(
    ("user", "text", "keys"),
    [
        ("minji", "I am happy", []),
        ("  minji  ", "  padded  ", []),
        ("", "text", ["err_user_missing"]),
        ("   ", "text", ["err_user_missing"]),
        ("a" * 65, "text", ["err_user_too_long"]),
        ("a" * 64, "x" * 2000, []),
        ("tab\there", "text", ["err_user_control"]),
        ("c1\x85inside", "text", ["err_user_control"]),
        ("minji", "", ["err_comment_missing"]),
        ("minji", " \n\t ", ["err_comment_missing"]),
        ("minji", "x" * 2001, ["err_comment_too_long"]),
        ("minji", " " + "x" * 2000 + " ", []),  # the API trims before counting
        ("minji", "two\nlines\tand a tab", []),
        ("minji", "nul\x00byte", ["err_comment_control"]),
        ("", "", ["err_user_missing", "err_comment_missing"]),
    ],
)
def test_submission_rules_match_the_api(user: str, text: str, keys: list[str], shared_api: RealApi) -> None:
    """The form's checks give these problems, and the real API agrees: the form says ok <=> API says 201."""
    assert [key for key, _ in validate_submission(user, text)] == keys
    answer = shared_api.http.post("/comments", json={"request_user": user, "comments": text})
    assert answer.status_code in (201, 422), answer.text
    assert (answer.status_code == 201) == (keys == []), answer.text


@pytest.fixture(scope="module")
def shared_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealApi]:
    """One real API for a table of inputs (a database per input would only cost time)."""
    with serve_api(api_settings(tmp_path_factory.mktemp("rules"))) as api:
        yield api


def test_remark_rules() -> None:
    assert validate_remark("x" * 500) == []
    assert validate_remark("x" * 501) == [("err_remark_too_long", {"limit": 500, "length": 501})]
    assert [key for key, _ in validate_remark("bell\x07")] == ["err_remark_control"]


# ---------------------------------------------------------------------------------- strings
def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_string_exists_in_every_language_with_the_same_placeholders() -> None:
    for key, entry in STRINGS.items():
        assert set(entry) == set(LANGUAGES), key
        assert all(entry[lang].strip() for lang in LANGUAGES), key
        if "%{" not in entry["en"]:  # Plotly hover templates are not str.format strings
            assert _placeholders(entry["en"]) == _placeholders(entry["ko"]), key


def test_every_key_the_code_uses_has_a_string() -> None:
    used: set[str] = set()
    pattern = re.compile(r"""\b(?:t|translate)\(\s*["']([a-z0-9_]+)["']""")
    for path in UI_DIR.rglob("*.py"):
        used |= set(pattern.findall(path.read_text()))
    dynamic = {f"emotion_{label}" for label in LABELS} | {
        f"{prefix}_{value}"
        for prefix, values in {
            "status": ("all", "unlabeled", "labeled"),
            "sort": ("least_confident", "newest", "oldest"),
            "count": ("total", "pending", "predicted", "labeled", "labeled_and_predicted"),
            "action": ("set", "accept", "undo"),
            "tab": (
                "quality",
                "per_class",
                "one_vs_rest",
                "calibration",
                "curves",
                "scores",
                "time",
                "users",
            ),
        }.items()
        for value in values
    }
    assert len(used) > 100
    missing = sorted((used | dynamic) - set(STRINGS))
    assert missing == []


def test_translate_fills_placeholders_and_falls_back() -> None:
    assert translate("upload_received", "ko", num=7) == "코멘트 #7 접수됨"
    assert translate("upload_received", "en", num=7) == "Comment #7 received"
    assert translate("no_such_key", "en", default="fallback") == "fallback"
    with pytest.raises(KeyError):
        translate("no_such_key", "en")


# ------------------------------------------------------------------------------ tables, paging
def test_comments_frame_has_every_probability_and_keeps_the_api_order() -> None:
    scores = dict(zip(LABELS, (0.05, 0.05, 0.1, 0.5, 0.1, 0.1, 0.1), strict=True))
    items = [
        {"num": 9, "comments": "b", "request_user": "u", "request_time": "2026-01-02T03:04:05Z",
         "prediction_result": "joy", "prediction_score": 0.5, "prediction_scores": scores, "label": "fear"},
        {"num": 3, "comments": "a", "request_user": "u", "request_time": "2026-01-02T03:04:06Z",
         "prediction_result": None, "prediction_score": None, "prediction_scores": None, "label": None},
    ]  # fmt: skip
    frame = comments_frame(items, "en")
    assert frame["num"].tolist() == [9, 3]
    assert frame.loc[0, "prediction"] == "😀 joy"
    assert frame.loc[0, "label"] == "😨 fear"
    assert frame.loc[0, "request_time"] == "2026-01-02 03:04:05 UTC"
    assert [frame.loc[0, f"p_{label}"] for label in LABELS] == list(scores.values())
    assert frame.iloc[1][[f"p_{label}" for label in LABELS]].isna().all()
    assert comments_frame([], "ko").empty


def test_times_are_shown_in_the_viewers_time_zone() -> None:
    import contextvars

    def shown(zone: str | None) -> str:
        set_display_timezone(zone)
        return format_time("2026-01-02T03:04:05Z")

    run = contextvars.copy_context().run  # keep the zone set here out of the other tests
    assert run(shown, "Asia/Seoul") == "2026-01-02 12:04:05 KST"
    assert run(shown, "America/New_York") == "2026-01-01 22:04:05 EST"
    assert run(shown, None) == "2026-01-02 03:04:05 UTC"
    assert run(shown, "Not/A_Zone") == "2026-01-02 03:04:05 UTC"


def test_filters_from_widgets_leave_out_what_is_not_filtered() -> None:
    everything = LabelFilters.from_widgets(
        request_user="", status="all", prediction_result="", label="", score_range=(0.0, 1.0), q="  ",
        sort="least_confident",
    )  # fmt: skip
    assert everything.params() == {"sort": "least_confident"}
    narrow = LabelFilters.from_widgets(
        request_user="minji", status="unlabeled", prediction_result="joy", label="", score_range=(0.2, 0.8),
        q=" rain ", sort="bogus",
    )  # fmt: skip
    assert narrow.params() == {
        "request_user": "minji",
        "labeled": False,
        "prediction_result": "joy",
        "min_score": 0.2,
        "max_score": 0.8,
        "q": "rain",
        "sort": "least_confident",
    }


def test_cursor_pager_goes_forward_and_back_and_resets_on_new_filters() -> None:
    pager = CursorPager()
    pager.reset_if_changed("filters A")
    assert (pager.cursor, pager.has_previous, pager.has_next) == (None, False, False)
    pager.next_cursor = "c1"
    pager.forward()
    assert (pager.cursor, pager.index, pager.has_previous) == ("c1", 1, True)
    pager.next_cursor = "c2"
    pager.forward()
    pager.back()
    assert pager.cursor == "c1"
    pager.next_cursor = "c2-again"
    pager.forward()
    assert pager.cursors == [None, "c1", "c2-again"]
    pager.reset_if_changed("filters A")
    assert pager.index == 2
    pager.reset_if_changed("filters B")
    assert (pager.cursors, pager.index) == ([None], 0)


def test_pending_receipts_are_the_newest_unpredicted_ones() -> None:
    items = [
        {"receipt": "a", "prediction_result": None},
        {"receipt": "b", "prediction_result": "joy"},
        {"receipt": "c", "prediction_result": None, "missing": True},
        {"receipt": "d", "prediction_result": None},
    ]
    assert pending_receipts(items) == [0, 3]
    many = [{"receipt": str(index), "prediction_result": None} for index in range(50)]
    assert pending_receipts(many) == list(range(20))


def test_run_rows_names_known_fields_and_keeps_unknown_ones() -> None:
    rows = run_rows(
        {
            "run_id": "r1",
            "records": 12,
            "predict_seconds": 1.234,
            "created_at": "2026-01-01T00:00:00Z",
            "extra": 5,
        },
        "en",
    )
    assert rows == [
        ("Run", "r1"),
        ("Started", "2026-01-01 00:00:00 UTC"),
        ("Comments predicted", "12"),
        ("Prediction seconds", "1.23"),
        ("extra", "5"),
    ]


def test_user_text_cannot_format_the_page() -> None:
    from threekcal.ui.logic import escape_markdown, quote_markdown

    hostile = "![pixel](http://tracker.example/p.png) **bold** $x^2$ :red[red] <b>x</b> `code`"
    escaped = escape_markdown(hostile)
    assert "\\!\\[pixel\\]\\(http\\:\\/\\/tracker" in escaped
    assert re.sub(r"\\(.)", r"\1", escaped) == hostile  # unescaping gives the text back
    assert quote_markdown("first line\nsecond *line*") == "> first line  \n> second \\*line\\*"
    assert escape_markdown("민지 😀 plain words") == "민지 😀 plain words"
