"""The web app's Models page under AppTest, talking to the real API in process (tests/ui's ``serve_api``,
no fake): a trained candidate's metrics, per-emotion F1 and confusion matrices beside the active model's,
the verdict; a signed-out visitor sees only drift, an annotator sees versions without admin actions, and
the admin's promotion reaches the registry with the admin as author."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from labelled_corpus import CORPUS_SIZE, add_labelled, labelled_corpus
from streamlit.testing.v1 import AppTest

from threekcal.api.auth import issue_access_token
from threekcal.db import accounts, registry
from threekcal.db.session import session_factory
from threekcal.model.training import TrainRequest, train_version
from threekcal.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ui"))
from ui_api import API_URL, APP_PATH, RealApi, serve_api  # the shared real-API helper


@pytest.fixture
def real_api(train_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[RealApi]:
    monkeypatch.setenv("THREEKCAL_API_URL", API_URL)
    monkeypatch.setenv("THREEKCAL_LANG", "en")
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    with serve_api(train_settings) as api:
        yield api


def _token(settings: Settings, username: str, role: str) -> str:
    with session_factory(settings.database_url)() as session:
        return issue_access_token(settings, accounts.create_user(session, username, role=role, password=None))


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
    train_settings: Settings, real_api: RealApi
) -> None:
    add_labelled(train_settings.database_url, labelled_corpus(CORPUS_SIZE))
    outcome = train_version(train_settings, TrainRequest(author="tester"))

    visitor = _open()  # signed out: no versions, no authors, no jobs
    assert "Log in on the Label page to see the model versions" in _text(visitor)
    assert not visitor.dataframe and not real_api.calls("GET", "/models")

    annotator = _open(admin_token=_token(train_settings, "ana", "annotator"))
    assert "Verdict: **better**" in _text(annotator) and "Only admins promote" in _text(annotator)
    table = annotator.dataframe[0].value
    assert list(table["status"]) == ["active", "candidate"]
    candidate_row = table[table["id"] == outcome.version_id].iloc[0]
    assert candidate_row["accuracy"] == pytest.approx(outcome.evaluation["candidate"]["accuracy"])
    specs = [json.loads(chart.proto.spec) for chart in annotator.get("plotly_chart")]
    bars = [trace for trace in specs[0]["data"] if trace["type"] == "bar"]
    assert len(bars) == 2  # candidate and active F1 per emotion
    heatmaps = [spec for spec in specs if spec["data"][0]["type"] == "heatmap"]
    assert len(heatmaps) == 2  # confusion matrices side by side
    assert not [button for button in annotator.button if button.key == "models_promote"]  # not an admin

    admin = _open(admin_token=_token(train_settings, "boss", "admin"))
    promote = next(button for button in admin.button if button.key == "models_promote")
    promote.click().run()
    assert f"Version {outcome.version_id} is active" in _text(admin)
    with session_factory(train_settings.database_url)() as session:
        assert registry.active_version(session).id == outcome.version_id
        newest = registry.events(session)[0]
        assert (newest.action, newest.author) == ("promote", "boss")


def test_home_flags_the_days_on_which_the_active_model_drifted(
    train_settings: Settings, real_api: RealApi
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
    models = _open()  # drift is public: shown signed out too
    assert "Days with drift" in _text(models)
