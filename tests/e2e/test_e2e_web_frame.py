"""The web app's frame in a real browser, with no API running at first: `/home` opens the home page (no
"Page not found"), the API banner replaces Streamlit's connection error, the toolbar has no developer
menu; once the API starts, the banner goes by itself and the page shows the API's data."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from e2e_stack import stack_environment

from testnet import HeldPort
from threekcal import validation
from threekcal.db import migrate
from waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@dataclass
class WebApp:
    url: str
    api_port: int
    env: dict[str, str]
    cwd: Path


@pytest.fixture
def web_app_alone(tmp_path: Path) -> Iterator[WebApp]:
    """`threekcal ui` on its own; the API URL points at a held port where nothing listens (yet)."""
    with HeldPort() as ui_port, HeldPort() as api_port:
        env = stack_environment(tmp_path, model_dir=None)
        api_url = f"http://127.0.0.1:{api_port.port}"
        log = (tmp_path / "ui.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "threekcal.cli", "ui", "--port", str(ui_port.port), "--api-url", api_url],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        url = f"http://127.0.0.1:{ui_port.port}"

        def healthy() -> bool:
            try:
                return httpx.get(f"{url}/_stcore/health", timeout=2).text == "ok"
            except httpx.HTTPError:
                return False

        try:
            wait_until(healthy, what="the web app answers")
            yield WebApp(url=url, api_port=api_port.port, env=env, cwd=tmp_path)
        finally:
            process.terminate()
            process.wait(timeout=30)
            log.close()


def test_home_path_banner_and_viewer_toolbar(web_app_alone: WebApp, page) -> None:
    from playwright.sync_api import expect

    page.goto(f"{web_app_alone.url}/home")
    expect(page.get_by_role("heading", name=re.compile("ThreeKcal: how does this text feel"))).to_be_visible()
    banner = page.get_by_text("The API is restarting or unreachable, retrying…")
    expect(banner).to_have_count(1)
    expect(page.get_by_text("Page not found")).to_have_count(0)
    expect(page.get_by_text("You have requested page /home")).to_have_count(0)
    page.get_by_test_id("stMainMenu").click()
    expect(page.get_by_text("Clear cache")).to_have_count(0)  # developer options hidden
    expect(page.get_by_role("button", name="Deploy")).to_have_count(0)
    page.keyboard.press("Escape")

    # The API comes up: the banner checks /health by itself and the page reloads with the API's data.
    migrate.upgrade(web_app_alone.env["THREEKCAL_DATABASE_URL"])
    api = subprocess.Popen(
        [sys.executable, "-m", "threekcal.cli", "api", "--port", str(web_app_alone.api_port)],
        cwd=web_app_alone.cwd, env=web_app_alone.env, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        expect(banner).to_have_count(0)
        expect(page.get_by_text("Waiting for a prediction")).to_be_visible()
    finally:
        api.terminate()
        api.wait(timeout=30)


def test_upload_keeps_3000_pasted_characters_and_a_line_break_and_refuses_them(
    web_app_alone: WebApp, page
) -> None:
    """In the browser, where a box's max_chars used to cut a paste short: nothing typed is lost."""
    from playwright.sync_api import expect

    page.goto(f"{web_app_alone.url}/upload")
    username = page.get_by_role("textbox", name="Username", exact=True)
    comment = page.get_by_role("textbox", name="Comment", exact=True)
    username.fill("min\nji")
    comment.fill("x" * 3000)
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_text("The comment has 3000 characters; at most 2000 are allowed.")).to_be_visible()
    expect(page.get_by_text("The username must be one line: remove the line break.")).to_be_visible()
    expect(page.get_by_test_id("liveCount").last).to_have_text("3,000 / 2,000 characters: 1,000 too many")
    assert len(comment.input_value()) == 3000
    assert username.input_value() == "min\nji"


def test_upload_counts_live_while_typing_and_the_server_still_refuses(web_app_alone: WebApp, page) -> None:
    """The count follows every keystroke (Streamlit sends the box's value only when it is left), counts as
    threekcal.validation does, turns red past the limit, and only the server's check decides."""
    from playwright.sync_api import expect

    page.goto(f"{web_app_alone.url}/upload")
    username = page.get_by_role("textbox", name="Username", exact=True)
    comment = page.get_by_role("textbox", name="Comment", exact=True)
    user_count = page.get_by_test_id("liveCount").first
    comment_count = page.get_by_test_id("liveCount").last
    expect(page.get_by_test_id("liveCount")).to_have_count(2)
    expect(comment_count).to_have_text("0 / 2,000 characters")

    comment.press_sequentially(" ab😀\nc ")  # trimmed; the emoji and the line break are one character each
    expect(comment).to_be_focused()
    expect(comment_count).to_have_text("5 / 2,000 characters")
    server_captions = page.locator(
        '[class*="st-key-upload_"][class*="_count"] [data-testid="stCaptionContainer"]'
    )
    expect(server_captions).to_have_count(2)
    for index in range(2):
        expect(server_captions.nth(index)).to_be_hidden()  # the live count stands in: one count per box
    expect(server_captions.nth(1)).to_have_text("0 / 2,000 characters")  # the server has not got it yet
    username.press_sequentially("Ame\u0301lie")  # NFC: é is one character, as the API counts it
    expect(user_count).to_have_text("6 / 64 characters")
    expect(user_count).not_to_have_attribute("data-over", "")

    username.fill("m" * 65)
    expect(username).to_be_focused()
    expect(user_count).to_have_text("65 / 64 characters: 1 too many")
    expect(user_count).to_have_attribute("data-over", "")
    expect(user_count).to_have_css("color", "rgb(255, 43, 43)")
    username.press("Backspace")
    expect(user_count).to_have_text("64 / 64 characters")
    expect(user_count).not_to_have_attribute("data-over", "")
    username.press("x")

    # The same numbers as threekcal.validation for what JavaScript's own trim() or length would miscount.
    for sample in ["\ufeffab\x85", "\x1c a \u3000", "😀😀", "e\u0301"]:
        comment.fill(sample)
        expect(comment_count).to_have_text(f"{validation.text_length(sample)} / 2,000 characters")
    name = " e\u0301\u00a0"
    username.fill(name)
    expect(user_count).to_have_text(f"{validation.name_length(name)} / 64 characters")
    username.fill("m" * 65)

    comment.fill("x" * 2001)
    expect(comment_count).to_have_text("2,001 / 2,000 characters: 1 too many")
    expect(comment_count).to_have_css("color", "rgb(255, 43, 43)")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_text("The comment has 2001 characters; at most 2000 are allowed.")).to_be_visible()
    expect(page.get_by_text("The username has 65 characters; at most 64 are allowed.")).to_be_visible()
    # After the server's rerun: still one count per box, the same text, still red.
    expect(page.get_by_test_id("liveCount")).to_have_count(2)
    expect(server_captions.nth(1)).to_have_text("2,001 / 2,000 characters: 1 too many")  # same text, hidden
    expect(server_captions.nth(1)).to_be_hidden()
    expect(comment_count).to_have_text("2,001 / 2,000 characters: 1 too many")
    expect(comment_count).to_have_css("color", "rgb(255, 43, 43)")
    expect(user_count).to_have_text("65 / 64 characters: 1 too many")
    comment.press("Backspace")
    expect(comment_count).to_have_text("2,000 / 2,000 characters")
    expect(comment_count).not_to_have_css("color", "rgb(255, 43, 43)")
