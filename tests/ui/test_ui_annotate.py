"""The focused labelling page (/annotate) under AppTest, against the real API in-process: the keys are
bound, a decision shows the next comment from the prefetched queue, skip, undo, remark, a change made
meanwhile, and the audit queue."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest
from ui_api import RealApi

from threekcal.db.queries import audit_key
from threekcal.emotions import EMOJI, LABELS
from threekcal.ui import annotate_flow

OpenPage = Callable[..., AppTest]


def scores_for(top: str, confidence: float) -> dict[str, float]:
    rest = (1 - confidence) / (len(LABELS) - 1)
    return {label: confidence if label == top else rest for label in LABELS}


def shown_num(app: AppTest) -> int | None:
    heads = [element.value for element in app.subheader if element.value.startswith("#")]
    return int(heads[0].split(" ")[0][1:]) if heads else None


def texts(app: AppTest) -> str:
    kinds = ("title", "subheader", "markdown", "caption", "info", "warning", "success", "error")
    return "\n".join(str(element.value) for kind in kinds for element in getattr(app, kind))


def press(app: AppTest, key: str) -> AppTest:
    """What the key bound to the button ``key`` does in the browser: a click of that button."""
    return app.button(key=key).click().run()


def assert_no_exception(app: AppTest) -> None:
    assert [exception.value for exception in app.exception] == []


@pytest.fixture
def queue_api(real_api: RealApi) -> RealApi:
    """Five predicted comments with rising confidence (#1 least confident), one labelled (#6)."""
    for number, (top, confidence) in enumerate(
        [("joy", 0.31), ("anger", 0.42), ("fear", 0.53), ("sadness", 0.64), ("neutral", 0.75)], start=1
    ):
        real_api.add_comment(
            f"writer{number % 2}", f"comment number {number}", scores=scores_for(top, confidence)
        )
    real_api.add_comment("writer0", "already labelled", scores=scores_for("joy", 0.2), label="joy")
    return real_api


def put_bodies(api: RealApi) -> list[tuple[str, dict, str | None]]:
    return [
        (request.url.path, json.loads(request.content), request.headers.get("if-match"))
        for request in api.requests
        if request.method == "PUT"
    ]


def test_signed_out_the_page_asks_to_log_in(real_api: RealApi, open_page: OpenPage) -> None:
    app = open_page("annotate")
    assert_no_exception(app)
    assert "Log in to label comments." in texts(app)
    assert [button.key for button in app.button if button.key and button.key.startswith("annotate_")] == []


def test_every_key_is_bound_to_its_button(queue_api: RealApi, open_page: OpenPage) -> None:
    app = open_page("annotate", admin_token=queue_api.token)
    assert_no_exception(app)
    shortcuts = {button.key: button.proto.shortcut for button in app.button if button.key}
    bound = {label: shortcuts[f"annotate_label_{label}"] for label in LABELS}
    assert bound == dict(
        zip(("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"), "1234567", strict=True)
    )
    assert (shortcuts["annotate_accept"], shortcuts["annotate_skip"], shortcuts["annotate_undo"]) == (
        "enter",
        "s",
        "u",
    )
    labels = [app.button(key=f"annotate_label_{label}").label for label in LABELS]
    assert labels == [f"{EMOJI[label]} {label}" for label in LABELS]
    # R cannot be a Streamlit shortcut (reserved): a script attached once per browser page focuses the remark
    scripts = [element.proto.body for element in app.get("html") if element.proto.unsafe_allow_javascript]
    assert scripts == [annotate_flow.REMARK_KEY_SCRIPT.strip()]
    assert "if (host.__threekcalRemarkKey) return;" in scripts[0]
    assert ".st-key-annotate_remark input" in scripts[0]


def test_a_decision_shows_the_next_comment_from_the_prefetched_queue(
    queue_api: RealApi, open_page: OpenPage
) -> None:
    app = open_page("annotate", admin_token=queue_api.token)
    assert shown_num(app) == 1  # least confident first, the labelled #6 left out
    assert "comment number 1" in texts(app)
    assert "Prediction: **😀 joy** (31.0%)" in texts(app)
    assert "🤬 anger 11.5% · 🤢 disgust 11.5% · 😨 fear 11.5% · **😀 joy 31.0%**" in texts(app)
    lists = len(queue_api.calls("GET", "/comments"))
    assert dict(queue_api.calls("GET", "/comments")[-1].url.params) == {
        "sort": "least_confident", "queue": "true", "limit": str(annotate_flow.PREFETCH),
    }  # fmt: skip

    app = press(app, "annotate_label_fear")  # key 3
    assert_no_exception(app)
    assert shown_num(app) == 2
    assert "#1 is 😨 fear." in texts(app)
    assert len(queue_api.calls("GET", "/comments")) == lists  # served from session state, no new read
    assert put_bodies(queue_api)[-1] == (
        "/comments/1/label", {"label": "fear", "source": "chosen", "audit": False}, '"1-0"',
    )  # fmt: skip
    stored = queue_api.comment(1)
    assert (stored["label"], stored["label_source"], stored["audit"]) == ("fear", "chosen", False)

    app = press(app, "annotate_accept")  # Enter: #2's prediction, anger
    assert shown_num(app) == 3
    stored = queue_api.comment(2)
    assert (stored["label"], stored["label_source"]) == ("anger", "accepted")
    assert "This session: 2 labelled · 0 skipped" in texts(app)


def test_skip_moves_on_and_stores_nothing(queue_api: RealApi, open_page: OpenPage) -> None:
    app = open_page("annotate", admin_token=queue_api.token)
    app = press(app, "annotate_skip")
    assert shown_num(app) == 2
    assert put_bodies(queue_api) == []
    assert queue_api.comment(1)["label"] is None
    for expected in (3, 4, 5):
        app = press(app, "annotate_skip")
        assert shown_num(app) == expected
    app = press(app, "annotate_skip")
    assert shown_num(app) is None
    assert "Nothing left in this queue." in texts(app)
    assert "This session: 0 labelled · 5 skipped" in texts(app)
    app = press(app, "annotate_again")  # the skipped ones come back
    assert shown_num(app) == 1


def test_undo_restores_my_last_label_and_shows_the_comment_again(
    queue_api: RealApi, open_page: OpenPage
) -> None:
    app = open_page("annotate", admin_token=queue_api.token)
    app = press(app, "annotate_label_sadness")
    assert (shown_num(app), queue_api.comment(1)["label"]) == (2, "sadness")
    app = press(app, "annotate_undo")  # key U
    assert_no_exception(app)
    assert shown_num(app) == 1
    assert "Undone: #1 has no label again." in texts(app)
    assert queue_api.comment(1)["label"] is None
    # the restored comment carries its new ETag: labelling it again is not refused as stale
    app = press(app, "annotate_label_joy")
    assert (shown_num(app), queue_api.comment(1)["label"]) == (2, "joy")
    app = press(app, "annotate_undo")
    app = press(app, "annotate_undo")  # my change of #6 (set by the fixture as admin) goes too
    assert shown_num(app) == 6


def test_the_remark_is_saved_with_the_label_and_cleared_for_the_next(
    queue_api: RealApi, open_page: OpenPage
) -> None:
    app = open_page("annotate", admin_token=queue_api.token)
    app.text_input(key=annotate_flow.REMARK_KEY).input("sarcasm").run()
    app = press(app, "annotate_label_disgust")
    stored = queue_api.comment(1)
    assert (stored["label"], stored["remark"]) == ("disgust", "sarcasm")
    assert app.text_input(key=annotate_flow.REMARK_KEY).value == ""
    press(app, "annotate_label_joy")
    assert put_bodies(queue_api)[-1][1] == {
        "label": "joy",
        "source": "chosen",
        "audit": False,
    }  # no remark sent
    assert queue_api.comment(2)["remark"] is None


def test_a_change_made_meanwhile_is_not_overwritten(queue_api: RealApi, open_page: OpenPage) -> None:
    app = open_page("annotate", admin_token=queue_api.token)
    queue_api.set_label(1, "surprise", "someone else")  # after the page read #1
    app = press(app, "annotate_label_anger")
    assert_no_exception(app)
    assert "#1 was changed by admin meanwhile: nothing was saved, it is skipped." in texts(app)
    assert shown_num(app) == 2
    stored = queue_api.comment(1)
    assert (stored["label"], stored["remark"]) == ("surprise", "someone else")


def test_filters_narrow_the_queue(queue_api: RealApi, open_page: OpenPage) -> None:
    app = open_page("annotate", admin_token=queue_api.token)
    app.text_input(key=annotate_flow.USER_FILTER_KEY).input("writer0").run()
    assert shown_num(app) == 2
    assert dict(queue_api.calls("GET", "/comments")[-1].url.params)["request_user"] == "writer0"
    app = press(app, "annotate_skip")
    assert shown_num(app) == 4


def test_audit_mode_serves_the_random_order_and_marks_the_sample(
    queue_api: RealApi, open_page: OpenPage
) -> None:
    app = open_page("annotate", admin_token=queue_api.token, annotate_mode="audit")
    assert_no_exception(app)
    assert "uniformly random sample" in texts(app)
    order = sorted(range(1, 7), key=audit_key)  # labelled #6 included: the sample stays uniform
    assert order != sorted(order)
    assert shown_num(app) == order[0]
    assert dict(queue_api.calls("GET", "/comments")[-1].url.params) == {
        "sort": "audit", "audit": "false", "predicted": "true", "limit": str(annotate_flow.PREFETCH),
    }  # fmt: skip
    app = press(app, "annotate_accept")
    assert shown_num(app) == order[1]
    first = queue_api.comment(order[0])
    assert (first["audit"], first["label_source"]) == (True, "accepted")
    app = press(app, "annotate_label_surprise")
    assert (queue_api.comment(order[1])["label"], queue_api.comment(order[1])["audit"]) == ("surprise", True)
    assert shown_num(app) == order[2]
    # back to least confident first: a queue of its own, the audit flag no longer sent
    app.session_state[annotate_flow.MODE_KEY] = "least_confident"
    app.run()
    labelled = {order[0], order[1], 6}
    assert shown_num(app) == min(num for num in range(1, 6) if num not in labelled)
    press(app, "annotate_label_fear")
    assert put_bodies(queue_api)[-1][1]["audit"] is False
