"""Fixtures of the web app tests: the real API in-process on a temporary SQLite database (``ui_api``), or
the API down (a stand-in that only refuses, checked against the real app's routes), and the app under
AppTest."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from streamlit.testing.v1 import AppTest
from ui_api import API_URL, APP_PATH, UI_ADMIN_TOKEN, RealApi, api_settings, assert_routes_exist, serve_api

from threekcal.api import create_app
from threekcal.settings import Settings
from threekcal.ui import client


@pytest.fixture(autouse=True)
def _ui_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("THREEKCAL_API_URL", API_URL)
    monkeypatch.setenv("THREEKCAL_LANG", "en")
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    yield
    client.set_transport_factory(None)


@pytest.fixture
def real_api(tmp_path: Path) -> Iterator[RealApi]:
    with serve_api(api_settings(tmp_path)) as api:
        yield api


@pytest.fixture(scope="session")
def openapi_routes() -> list[tuple[str, re.Pattern[str]]]:
    """(method, path pattern) of every operation in the real app's OpenAPI document."""
    document = create_app(Settings(env="test", admin_token=UI_ADMIN_TOKEN, _env_file=None)).openapi()
    return [
        (method.upper(), re.compile(re.sub(r"\\{[^/]+\\}", "[^/]+", re.escape(path)) + "$"))
        for path, item in document["paths"].items()
        for method in item
    ]


@pytest.fixture
def api_down(openapi_routes: list[tuple[str, re.Pattern[str]]]) -> Iterator[list[httpx.Request]]:
    """Every request fails as if nothing listened on the API's port; the attempts are recorded and
    checked against the real API's routes at the end."""
    attempts: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    client.set_transport_factory(lambda: httpx.MockTransport(refuse))
    yield attempts
    assert_routes_exist(attempts, openapi_routes)


@pytest.fixture
def open_page() -> Callable[..., AppTest]:
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
