"""Fixtures: the running stack (module scope), Chromium pages. Browser tests need /usr/bin/chromium:
without it they skip with the reason, except under CI, where they fail."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_stack import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, RunningStack, start_stack

BROWSER_WAIT_MS = 60_000


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[RunningStack]:
    """The whole product, as `make run` starts it, on a temporary database with the tiny test model."""
    tmp = tmp_path_factory.mktemp("up")
    running = start_stack(tmp, model_dir=tiny_model_dir)
    yield running
    try:
        running.stop()
    except subprocess.TimeoutExpired:
        running.process.kill()
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(running.log_path, ARTIFACTS / "threekcal-up.log")


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium (make system-deps)"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI requires the browser tests)", pytrace=False)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture
def page(chromium_path: Path) -> Iterator[object]:
    from playwright.sync_api import expect, sync_playwright

    # Assertions wait as long as actions: 5 s (Playwright's default) is too short for a first Streamlit
    # render on a loaded 2-core machine.
    expect.set_options(timeout=BROWSER_WAIT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
        context.set_default_timeout(BROWSER_WAIT_MS)
        yield context.new_page()
        context.close()
        browser.close()
