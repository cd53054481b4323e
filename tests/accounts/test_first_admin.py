"""`threekcal up` in development gives the account `admin` a password once; production creates nothing."""

from __future__ import annotations

from pathlib import Path

from threekcal.cli.server import _first_admin_password
from threekcal.db import accounts
from threekcal.db.session import session_factory
from threekcal.settings import Settings


def test_development_creates_admin_once_and_its_password_signs_in(db_url: str, tmp_path: Path) -> None:
    settings = Settings(env="development", database_url=db_url, var_dir=tmp_path, _env_file=None)
    password = _first_admin_password(settings)
    assert password is not None and len(password) >= 16
    assert _first_admin_password(settings) is None  # shown once: the next start prints nothing
    with session_factory(db_url)() as session:
        user = accounts.authenticate(session, "admin", password)
        assert user is not None and user.role == "admin"


def test_service_account_without_password_gets_one(db_url: str, tmp_path: Path) -> None:
    with session_factory(db_url)() as session:
        accounts.service_account(session)  # what the first request with THREEKCAL_ADMIN_TOKEN creates
    settings = Settings(env="development", database_url=db_url, var_dir=tmp_path, _env_file=None)
    password = _first_admin_password(settings)
    assert password is not None
    with session_factory(db_url)() as session:
        assert accounts.authenticate(session, "admin", password) is not None


def test_an_admin_with_a_password_means_nothing_is_created(db_url: str, tmp_path: Path) -> None:
    with session_factory(db_url)() as session:
        accounts.create_user(session, "boss", role="admin", password="boss-pass-123")
    settings = Settings(env="development", database_url=db_url, var_dir=tmp_path, _env_file=None)
    assert _first_admin_password(settings) is None
    with session_factory(db_url)() as session:
        assert accounts.find_user(session, "admin") is None


def test_production_creates_nothing(db_url: str) -> None:
    settings = Settings(
        env="production", database_url=db_url, admin_token="p" * 40, secret_key="s" * 48, _env_file=None
    )
    assert _first_admin_password(settings) is None
    with session_factory(db_url)() as session:
        assert accounts.list_users(session) == []
