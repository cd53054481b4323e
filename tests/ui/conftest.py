"""Fixtures of the web app tests: the API faked at the HTTP boundary (or down), and the app under AppTest."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from streamlit.testing.v1 import AppTest
from ui_fake_api import FakeApi

import threekcal.ui
from threekcal.ui import client

APP_PATH = Path(threekcal.ui.__file__).with_name("app.py")
FAKE_API_URL = "http://threekcal-api.test"


@pytest.fixture(autouse=True)
def _ui_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("THREEKCAL_API_URL", FAKE_API_URL)
    monkeypatch.setenv("THREEKCAL_LANG", "en")
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    yield
    client.set_transport_factory(None)


@pytest.fixture
def fake_api() -> FakeApi:
    api = FakeApi()
    client.set_transport_factory(api.transport)
    return api


@pytest.fixture
def api_down() -> list[httpx.Request]:
    """Every request fails as if nothing listened on the API's port; the attempts are recorded."""
    attempts: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    client.set_transport_factory(lambda: httpx.MockTransport(refuse))
    return attempts


@pytest.fixture
def open_page() -> Callable[[str], AppTest]:
    """``open_page("label")``: the app, run once on that page."""

    def open_(page: str, **session: object) -> AppTest:
        app = AppTest.from_file(str(APP_PATH), default_timeout=30)
        for key, value in session.items():
            app.session_state[key] = value
        app.run()
        if page != "home":
            app.switch_page(f"screens/{page}.py").run()
        return app

    return open_
