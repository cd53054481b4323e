"""The whole loop in a real browser against `threekcal up`: submit, see the prediction, label it as admin,
see the statistics include it; an annotator signs in, sees no admin actions, and is shown a change made
meanwhile (412) with the choice to re-apply. Then Ctrl-C stops all three processes cleanly.

Screenshots of every page go to test-artifacts/ (repo root, git-ignored).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from e2e_stack import ARTIFACTS, RunningStack, api_get, port_is_open

from threekcal.emotions import EMOJI, LABELS

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

PREDICTION_SECONDS = 120
EXPECT_SECONDS = 30  # a first page load imports pandas and plotly: seconds on a busy 2-core machine

CONFUSION_DATA_JS = r"""
() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(plot => ({
    // Streamlit's theme wraps titles in <b> tags.
    title: plot.layout && plot.layout.title ? plot.layout.title.text.replace(/<\/?b>/g, '') : null,
    traces: (plot.data || []).map(trace => ({
        type: trace.type,
        z: trace.z ? Array.from(trace.z, row => Array.from(row)) : null,
    })),
}))
"""


def admin_password(stack: RunningStack) -> str:
    """The password `threekcal up` prints once for the account admin in development."""
    found = re.search(r"Admin login \(development, shown once\): admin / (\S+)", stack.log())
    assert found is not None, stack.log()
    return found.group(1)


def sign_in(page: Page, username: str, password: str) -> None:
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Password", exact=True).press("Enter")


def wait_for_prediction(stack: RunningStack, num: int) -> dict:
    deadline = time.monotonic() + PREDICTION_SECONDS
    while time.monotonic() < deadline:
        comment = api_get(stack, f"/comments/{num}").json()
        if comment["prediction_result"]:
            return comment
        time.sleep(1)
    pytest.fail(f"comment {num} got no prediction in {PREDICTION_SECONDS} s:\n{stack.log()[-4000:]}")


def settle(page: Page) -> None:
    """Wait until the script run is over and every chart on the page is drawn."""
    page.wait_for_function(
        """() => !document.querySelector('[data-testid="stSkeleton"]')
            && Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"]'))
                .every(chart => chart.querySelector('.main-svg'))"""
    )
    page.get_by_test_id("stStatusWidget").filter(has_text="Running").wait_for(state="hidden")


def choose(page: Page, selectbox: Locator, option: str) -> None:
    """Pick an option of a Streamlit selectbox. A rerun that lands while the list is open closes it,
    so the page settles first and the list is opened again if it closed."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(3):
        settle(page)
        selectbox.click()
        try:
            page.get_by_role("option", name=option).click(timeout=5_000)
            return
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    pytest.fail(f"could not pick {option!r} in the selectbox")


def shoot(page: Page, name: str) -> None:
    """The whole page: Streamlit scrolls inside its main block, so the viewport grows to fit it first."""
    settle(page)
    ARTIFACTS.mkdir(exist_ok=True)
    viewport = page.viewport_size
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": viewport["width"], "height": min(max(height, viewport["height"]), 8000)})
    settle(page)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    page.set_viewport_size(viewport)


@pytest.mark.browser
@pytest.mark.slow
def test_submit_predict_label_and_see_statistics_in_the_browser(stack: RunningStack, page) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=EXPECT_SECONDS * 1000)
    # Home: explanation, the diagram, live pipeline status.
    page.goto(stack.ui_url)
    expect(page.get_by_role("heading", name=re.compile("ThreeKcal: how does this text feel"))).to_be_visible()
    expect(page.get_by_text("Waiting for a prediction")).to_be_visible()
    shoot(page, "home")

    # Upload: submit, then the prediction appears by itself.
    page.goto(f"{stack.ui_url}/upload")
    page.get_by_role("textbox", name="Username", exact=True).fill("e2e-user")
    page.get_by_role("textbox", name="Comment", exact=True).fill("I am so happy the sun is out today")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_text("Comment #1 received")).to_be_visible()
    predicted = wait_for_prediction(stack, 1)["prediction_result"]
    expect(page.get_by_role("heading", name=f"{EMOJI[predicted]} {predicted}")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Waiting for the prediction")).to_have_count(0)
    shoot(page, "upload")

    # Label: log in, give the comment a true label other than the prediction, with a remark.
    true_label = next(label for label in LABELS if label != predicted)
    page.goto(f"{stack.ui_url}/label")
    sign_in(page, "admin", admin_password(stack))
    expect(page.get_by_text("1 rows shown · 1 match")).to_be_visible()
    expect(page.get_by_text("Signed in as admin (admin)")).to_be_visible()
    form = page.get_by_test_id("stForm")
    choose(page, form.get_by_test_id("stSelectbox"), f"{EMOJI[true_label]} {true_label}")
    form.get_by_role("textbox", name="Remark", exact=True).fill("checked by the e2e test")
    form.get_by_role("button", name="Save").click()
    expect(page.get_by_text(f"Saved: comment #1 is {EMOJI[true_label]} {true_label}.")).to_be_visible()
    shoot(page, "label")
    stored = api_get(stack, "/comments/1").json()
    assert (stored["label"], stored["remark"]) == (true_label, "checked by the e2e test")
    # The export button downloads the current filters' comments from GET /comments/export.
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    assert download.value.suggested_filename == "threekcal-comments.csv"
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    assert exported.splitlines()[0].startswith("num,") and "checked by the e2e test" in exported

    # Statistics: a reload shows the new label in the accuracy and the confusion matrix.
    page.goto(f"{stack.ui_url}/statistics")
    accuracy = page.get_by_test_id("stMetric").filter(has_text="Accuracy").first
    expect(accuracy.get_by_test_id("stMetricValue")).to_have_text("0.0% (n=1)")
    labelled = page.get_by_test_id("stMetric").filter(has_text="Labelled and predicted")
    expect(labelled.get_by_test_id("stMetricValue")).to_have_text("1")
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.js-plotly-plot')).some(plot => plot.layout"
        " && plot.layout.title && plot.layout.title.text.includes('Confusion matrix (counts)'))"
    )
    plots = {plot["title"]: plot for plot in page.evaluate(CONFUSION_DATA_JS)}
    matrix = plots["Confusion matrix (counts)"]["traces"][0]["z"]
    expected = [[0] * len(LABELS) for _ in LABELS]
    expected[LABELS.index(true_label)][LABELS.index(predicted)] = 1
    assert matrix == expected
    shoot(page, "statistics")


@pytest.mark.browser
@pytest.mark.slow
def test_annotator_signs_in_without_admin_actions_and_sees_a_conflict(stack: RunningStack, page) -> None:
    """Runs after the first browser test (same stack): comment #1 exists and has a label."""
    import httpx
    from playwright.sync_api import expect

    from threekcal.db import accounts
    from threekcal.db.session import session_factory

    expect.set_options(timeout=EXPECT_SECONDS * 1000)
    with session_factory(stack.database_url)() as session:  # what `threekcal users add` does
        accounts.create_user(session, "ana", role="annotator", password="ana-browser-pass")
    page.goto(f"{stack.ui_url}/label")
    sign_in(page, "ana", "ana-browser-pass")
    expect(page.get_by_text("Signed in as ana (annotator)")).to_be_visible()
    expect(page.get_by_text("1 rows shown · 1 match")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^Accept"))).to_have_count(0)  # bulk accept: admins
    shoot(page, "label-annotator")

    # the admin changes the label after ana's page was read: her save is refused and explained
    current = api_get(stack, "/comments/1").json()
    theirs = next(label for label in LABELS if label != current["label"])
    httpx.put(
        f"{stack.api_url}/comments/1/label",
        json={"label": theirs, "remark": "admin changed it"},
        headers={"Authorization": f"Bearer {stack.token}"},
        timeout=10,
    ).raise_for_status()
    mine = next(label for label in LABELS if label not in (current["label"], theirs))
    form = page.get_by_test_id("stForm")
    choose(page, form.get_by_test_id("stSelectbox"), f"{EMOJI[mine]} {mine}")
    form.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Comment #1 was changed by admin while you edited it")).to_be_visible()
    shoot(page, "label-conflict")
    assert api_get(stack, "/comments/1").json()["label"] == theirs  # nothing overwritten silently
    page.get_by_role("button", name="Re-apply mine").click()
    expect(page.get_by_text(f"Saved: comment #1 is {EMOJI[mine]} {mine}.")).to_be_visible()
    stored = api_get(stack, "/comments/1").json()
    assert (stored["label"], stored["labeled_by"]) == (mine, "ana")


@pytest.mark.slow
def test_ctrl_c_stops_api_worker_and_ui(stack: RunningStack) -> None:
    """Runs after the browser test (same module, same stack); also runs where no browser is installed."""
    assert "Service token" in stack.log() and stack.token in stack.log()
    assert port_is_open(stack.api_port) and port_is_open(stack.ui_port)
    assert stack.stop() == 0
    log = stack.log()
    assert "Stopped:" in log
    stopped = re.search(r"Stopped: (.*)", log)
    assert stopped is not None and all(part.endswith("(0)") for part in stopped.group(1).split(", ")), log
    assert not port_is_open(stack.api_port) and not port_is_open(stack.ui_port)
