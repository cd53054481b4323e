"""The web app's Models page under AppTest, talking to the real API in process (no fake): a trained
candidate's metrics, per-emotion F1 and confusion matrices beside the active model's, the verdict, and
the admin's promotion reaching the registry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from labelled_corpus import CORPUS_SIZE, add_labelled, labelled_corpus
from streamlit.testing.v1 import AppTest

import threekcal.ui
from threekcal.api import create_app
from threekcal.db import registry
from threekcal.db.session import session_factory
from threekcal.model.training import TrainRequest, train_version
from threekcal.settings import Settings
from threekcal.ui import client

APP_PATH = Path(threekcal.ui.__file__).with_name("app.py")
SKIPPED_HEADERS = {"host", "content-length", "transfer-encoding", "content-encoding"}


class InProcessTransport(httpx.BaseTransport):
    """The web app's requests, answered by the real FastAPI app in this process."""

    def __init__(self, test_client: TestClient) -> None:
        self.test_client = test_client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        headers = {key: value for key, value in request.headers.items() if key.lower() not in SKIPPED_HEADERS}
        answer = self.test_client.request(
            request.method, request.url.raw_path.decode(), headers=headers, content=request.read()
        )
        kept = {key: value for key, value in answer.headers.items() if key.lower() not in SKIPPED_HEADERS}
        return httpx.Response(answer.status_code, headers=kept, content=answer.content)


@pytest.fixture
def real_api(train_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("THREEKCAL_API_URL", "http://threekcal-api.test")
    monkeypatch.setenv("THREEKCAL_LANG", "en")
    monkeypatch.chdir(tmp_path)
    with TestClient(create_app(train_settings)) as test_client:
        client.set_transport_factory(lambda: InProcessTransport(test_client))
        yield
    client.set_transport_factory(None)


def _open(**session: object) -> AppTest:
    app = AppTest.from_file(str(APP_PATH), default_timeout=60)
    for key, value in session.items():
        app.session_state[key] = value
    app.run()
    app.switch_page("screens/models.py").run()
    assert [exception.value for exception in app.exception] == []
    return app


def _text(app: AppTest) -> str:
    kinds = ("title", "markdown", "caption", "info", "warning", "success", "error")
    return "\n".join(str(element.value) for kind in kinds for element in getattr(app, kind))


def test_models_page_compares_a_trained_candidate_and_the_admin_promotes_it(
    train_settings: Settings, real_api: None
) -> None:
    add_labelled(train_settings.database_url, labelled_corpus(CORPUS_SIZE))
    outcome = train_version(train_settings, TrainRequest(author="tester"))

    visitor = _open()
    assert "Verdict: **better**" in _text(visitor) and "Log in on the Label page" in _text(visitor)
    table = visitor.dataframe[0].value
    assert list(table["status"]) == ["active", "candidate"]
    candidate_row = table[table["id"] == outcome.version_id].iloc[0]
    assert candidate_row["accuracy"] == pytest.approx(outcome.evaluation["candidate"]["accuracy"])
    specs = [json.loads(chart.proto.spec) for chart in visitor.get("plotly_chart")]
    bars = [trace for trace in specs[0]["data"] if trace["type"] == "bar"]
    assert len(bars) == 2  # candidate and active F1 per emotion
    heatmaps = [spec for spec in specs if spec["data"][0]["type"] == "heatmap"]
    assert len(heatmaps) == 2  # confusion matrices side by side
    assert not [button for button in visitor.button if button.key == "models_promote"]  # not an admin

    admin = _open(admin_token=train_settings.admin_token_value())
    promote = next(button for button in admin.button if button.key == "models_promote")
    promote.click().run()
    assert f"Version {outcome.version_id} is active" in _text(admin)
    with session_factory(train_settings.database_url)() as session:
        assert registry.active_version(session).id == outcome.version_id
        assert registry.events(session)[0].action == "promote"


def test_home_flags_the_days_on_which_the_active_model_drifted(
    train_settings: Settings, real_api: None
) -> None:
    from drift_fixture import seed_drift

    home = AppTest.from_file(str(APP_PATH), default_timeout=60)
    home.run()
    assert not [w for w in home.warning if "Days with drift" in str(w.value)]  # nothing to compare yet
    seed_drift(train_settings)
    home.session_state["_drift_flagged_days"] = None  # the page caches the figures for a minute
    home.run()
    warnings = [str(w.value) for w in home.warning if "Days with drift" in str(w.value)]
    assert len(warnings) == 1 and warnings[0].count("2026-10-") == 7
    models = _open()
    assert "Days with drift" in _text(models)
