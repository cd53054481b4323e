"""The upload page's live character count: one script on the page, with the limits, the counting modes
and the texts from threekcal.validation and ui/i18n (the browser test types into it: tests/e2e)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest
from ui_api import RealApi

from threekcal import validation
from threekcal.ui import upload_flow

OpenPage = Callable[..., AppTest]


def page_config(app: AppTest) -> dict:
    scripts = [element.proto.body for element in app.get("html") if element.proto.unsafe_allow_javascript]
    assert len(scripts) == 1, scripts
    match = re.search(r"host\.__threekcalLiveCountConfig = (\{.*\});\n", scripts[0])
    assert match is not None
    return json.loads(match.group(1))


def test_the_live_count_script_has_the_limits_of_validation(real_api: RealApi, open_page: OpenPage) -> None:
    config = page_config(open_page("upload"))
    assert config["boxes"] == [
        {"label": "Username", "container_key": "upload_user_count", "limit": validation.MAX_USER_CHARS,
         "mode": "name"},
        {"label": "Comment", "container_key": "upload_text_count", "limit": validation.MAX_COMMENT_CHARS,
         "mode": "text"},
    ]  # fmt: skip
    assert config["within"] == "{length} / {limit} characters"
    assert config["over"] == "{length} / {limit} characters: {over} too many"
    # The characters Python's strip() trims, which validation.text_length/name_length count without.
    assert "".join(char for char in config["spaces"] if (" " + char + "x").strip() == "x") == config["spaces"]
    assert all(f"{char}x{char}".strip() == "x" for char in config["spaces"])
    assert "\ufeff" not in config["spaces"] and "\x85" in config["spaces"]


def test_the_live_count_speaks_the_page_language(
    real_api: RealApi, open_page: OpenPage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THREEKCAL_LANG", "ko")
    config = page_config(open_page("upload"))
    assert [box["label"] for box in config["boxes"]] == ["사용자 이름", "코멘트"]
    assert config["over"] == "{length} / {limit}자: {over}자 초과"


def test_the_server_caption_stays_as_the_fallback(real_api: RealApi, open_page: OpenPage) -> None:
    app = open_page("upload")
    app.text_area(key="upload_text").input("  héllo\n")
    app.run()
    assert "5 / 2,000 characters" in [caption.value for caption in app.caption]
    assert (
        upload_flow.count_template("upload_count").format(length="5", limit="2,000") == "5 / 2,000 characters"
    )
