"""Drift of the active model's predictions: a week with 30 points more anger is flagged every day, an
unchanged week is not; the figures are scipy's chi-square, Jensen-Shannon and Kolmogorov-Smirnov."""

from __future__ import annotations

from datetime import timedelta

from drift_fixture import PER_DAY, PROMOTED, seed_drift

from threekcal.db.drift import drift_report
from threekcal.db.session import session_factory
from threekcal.settings import Settings


def test_a_week_with_more_anger_is_flagged_and_an_unchanged_week_is_not(train_settings: Settings) -> None:
    seed_drift(train_settings)
    with session_factory(train_settings.database_url)() as session:
        report = drift_report(session, train_settings)
    assert report["reference"]["count"] == 7 * PER_DAY
    days = {entry["day"]: entry for entry in report["days"]}
    assert len(days) == 14
    unchanged = [days[(PROMOTED + timedelta(days=day)).date().isoformat()] for day in range(7, 14)]
    angry = [days[(PROMOTED + timedelta(days=day)).date().isoformat()] for day in range(14, 21)]
    assert not any(entry["flagged"] for entry in unchanged)
    assert all(entry["chi_square_p"] > 0.5 and entry["jensen_shannon"] < 0.01 for entry in unchanged)
    assert all(entry["flagged"] and entry["label_drift"] for entry in angry)
    assert all(entry["chi_square_p"] < 1e-6 and entry["jensen_shannon"] > 0.1 for entry in angry)
    assert all(not entry["score_drift"] for entry in unchanged + angry)
    assert report["flagged_days"] == [entry["day"] for entry in angry]


def test_a_chosen_reference_period_replaces_the_week_after_promotion(train_settings: Settings) -> None:
    seed_drift(train_settings)
    with session_factory(train_settings.database_url)() as session:
        report = drift_report(
            session,
            train_settings,
            reference_start=PROMOTED + timedelta(days=14),
            reference_end=PROMOTED + timedelta(days=21),
        )
    # against the angry week, nothing after it exists: no day to compare
    assert report["reference"]["mix"]["anger"] == 7 * 62 and report["days"] == []


def test_no_active_predictions_gives_an_empty_report(train_settings: Settings) -> None:
    with session_factory(train_settings.database_url)() as session:
        report = drift_report(session, train_settings)
    assert report["days"] == [] and report["reference"] is None


def test_models_drift_command_prints_the_flagged_days(train_settings: Settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import json

    from typer.testing import CliRunner

    from threekcal.cli import app
    from threekcal.settings import get_settings

    seed_drift(train_settings)
    monkeypatch.setenv("THREEKCAL_DATABASE_URL", train_settings.database_url)
    get_settings.cache_clear()
    try:
        as_json = CliRunner().invoke(app, ["models", "drift", "--json"])
        table = CliRunner().invoke(app, ["models", "drift"])
    finally:
        get_settings.cache_clear()
    assert as_json.exit_code == 0 and len(json.loads(as_json.output)["flagged_days"]) == 7
    assert table.exit_code == 0 and table.output.count("DRIFT") == 7
