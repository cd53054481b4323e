"""Settings read THREEKCAL_* variables and refuse unsafe admin tokens outside development."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from threekcal.emotions import DEFAULT_MODEL
from threekcal.settings import Settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("THREEKCAL_"):
            monkeypatch.delenv(name)


def test_defaults_are_embedded_sqlite_and_the_real_model() -> None:
    settings = Settings(_env_file=None)
    assert settings.database_url == "sqlite:///./var/threekcal.db"
    assert settings.model == DEFAULT_MODEL
    assert (settings.backend, settings.device) == ("auto", "auto")  # the fastest backend for this CPU
    assert settings.spark_master == "local[2]"
    assert settings.env == "development"


def test_environment_variables_use_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREEKCAL_DATABASE_URL", "mysql+pymysql://u:p@db:3306/threekcal")
    monkeypatch.setenv("THREEKCAL_BACKEND", "onnx")
    monkeypatch.setenv("THREEKCAL_WORKER_INTERVAL", "5")
    settings = Settings(_env_file=None)
    assert settings.database_url == "mysql+pymysql://u:p@db:3306/threekcal"
    assert settings.backend == "onnx"
    assert settings.worker_interval == 5


@pytest.mark.parametrize(
    "token", [None, "short", " " * 16, "x" * 31, "x" * 20 + " " + "y" * 20, "x" * 40 + "\t"]
)
def test_production_refuses_missing_short_or_blank_admin_token(token: str | None) -> None:
    with pytest.raises(ValidationError, match="at least 32 characters without whitespace"):
        Settings(env="production", admin_token=token, _env_file=None)


def test_public_docs_default_off_in_production_only() -> None:
    assert Settings(_env_file=None).docs_enabled()
    assert not Settings(
        env="production", admin_token="x" * 32, secret_key="k" * 48, _env_file=None
    ).docs_enabled()
    on = Settings(
        env="production", admin_token="x" * 32, secret_key="k" * 48, public_docs=True, _env_file=None
    )
    assert on.docs_enabled()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("THREEKCAL_SUBMIT_RATE_LIMIT", "lots"),
        ("THREEKCAL_RATE_LIMIT_STORAGE", "mongodb://x"),
        ("THREEKCAL_TRUSTED_PROXIES", "10.0.0.1, not-an-address"),
        ("THREEKCAL_DB_TIMEOUT", "0"),
    ],
)
def test_bad_hardening_settings_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name.removeprefix("THREEKCAL_").lower()):
        Settings(_env_file=None)


def test_production_accepts_a_long_token() -> None:
    settings = Settings(env="production", admin_token="x" * 32, secret_key="k" * 48, _env_file=None)
    assert settings.admin_token_value() == "x" * 32


def test_development_generates_and_keeps_a_token(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path / "var", _env_file=None)
    token = settings.admin_token_value()
    assert len(token) >= 16
    assert (tmp_path / "var" / "admin-token").stat().st_mode & 0o777 == 0o600
    again = Settings(var_dir=tmp_path / "var", _env_file=None).admin_token_value()
    assert again == token


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("THREEKCAL_BACKEND", "tensorflow"),
        ("THREEKCAL_DATABASE_URL", "postgres://x"),
        ("THREEKCAL_WORKER_INTERVAL", "-1"),
    ],
)
def test_bad_values_are_refused_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name.removeprefix("THREEKCAL_").lower()):
        Settings(_env_file=None)


@pytest.mark.parametrize("key", [None, "short", "k" * 20 + " " + "k" * 20])
def test_production_refuses_a_missing_or_weak_secret_key(key: str | None) -> None:
    with pytest.raises(ValueError, match="THREEKCAL_SECRET_KEY must be set to at least 32 characters"):
        Settings(env="production", admin_token="x" * 32, secret_key=key, _env_file=None)


def test_a_weak_secret_key_is_refused_in_development_too() -> None:
    with pytest.raises(ValueError, match="THREEKCAL_SECRET_KEY"):
        Settings(secret_key="short", _env_file=None)


def test_development_keeps_its_secret_key_in_var(tmp_path: Path) -> None:
    key = Settings(var_dir=tmp_path / "var", _env_file=None).secret_key_value()
    assert len(key) >= 32 and (tmp_path / "var" / "secret-key").read_text().strip() == key
    assert (tmp_path / "var" / "secret-key").stat().st_mode & 0o077 == 0
    assert Settings(var_dir=tmp_path / "var", _env_file=None).secret_key_value() == key
