"""``threekcal users ...`` through Typer's test runner, against the test database."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from threekcal.cli import app
from threekcal.db import accounts
from threekcal.db.models import ApiToken, User
from threekcal.db.session import session_factory
from threekcal.settings import get_settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("THREEKCAL_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _user(db_url: str, name: str) -> User | None:
    with session_factory(db_url)() as session:
        return accounts.find_user(session, name)


def test_add_generates_a_password_printed_once_and_stores_only_its_hash(db_url: str) -> None:
    result = runner.invoke(app, ["users", "add", "alice", "--role", "annotator"])
    assert result.exit_code == 0, result.output
    password = result.output.strip().splitlines()[-1].split(": ")[-1]
    user = _user(db_url, "alice")
    assert user is not None and user.role == "annotator" and user.active
    assert user.password_hash is not None and password not in user.password_hash
    assert user.password_hash.startswith("$argon2id$")
    with session_factory(db_url)() as session:
        assert accounts.authenticate(session, "alice", password) is not None
        assert accounts.authenticate(session, "alice", password + "x") is None


def test_add_with_password_from_stdin_prints_no_password(db_url: str) -> None:
    result = runner.invoke(app, ["users", "add", "bob", "--role", "admin", "--password-stdin"],
                           input="correct-horse-1\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "correct-horse-1" not in result.output and "Password" not in result.output
    with session_factory(db_url)() as session:
        user = accounts.authenticate(session, "bob", "correct-horse-1")
        assert user is not None and user.role == "admin"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["users", "add", "bad name"], "username may hold only"),
        (["users", "add", "kim\u202e"], "username may hold only"),  # bidi override
        (["users", "add", "ok", "--role", "boss"], "role must be one of"),
        (["users", "disable", "nobody"], "No account named"),
        (["users", "revoke-token", "999"], "No token with id 999"),
    ],
)
def test_bad_input_says_why_and_changes_nothing(db_url: str, args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code != 0
    assert message in result.output
    with session_factory(db_url)() as session:
        assert session.scalars(select(User)).all() == []


def test_duplicate_and_short_password_are_refused(db_url: str) -> None:
    assert runner.invoke(app, ["users", "add", "carol"]).exit_code == 0
    again = runner.invoke(app, ["users", "add", "carol"])
    assert again.exit_code == 1 and "already exists" in again.output
    short = runner.invoke(app, ["users", "add", "dave", "--password-stdin"], input="short\n")
    assert short.exit_code == 1 and "too short" in short.output
    assert _user(db_url, "dave") is None


def test_token_is_shown_once_stored_hashed_listed_and_revocable(db_url: str) -> None:
    runner.invoke(app, ["users", "add", "erin"])
    result = runner.invoke(app, ["users", "token", "erin", "--label", "laptop"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().split(": ")[-1]
    assert token.startswith(accounts.PERSONAL_TOKEN_PREFIX)
    with session_factory(db_url)() as session:
        row = session.scalars(select(ApiToken)).one()
        assert row.token_hash == accounts.token_digest(token) and row.label == "laptop"
        user = accounts.user_for_personal_token(session, token)
        assert user is not None and user.username == "erin"
    listed = json.loads(runner.invoke(app, ["users", "list", "--json"]).output)
    (erin,) = listed
    assert erin["tokens"][0]["label"] == "laptop" and erin["tokens"][0]["last_used_at"] is not None
    assert token not in json.dumps(listed)
    assert runner.invoke(app, ["users", "revoke-token", str(row.id)]).exit_code == 0
    with session_factory(db_url)() as session:
        assert accounts.user_for_personal_token(session, token) is None


def test_disable_and_reset_password(db_url: str) -> None:
    runner.invoke(app, ["users", "add", "frank", "--password-stdin"], input="first-pass-1\n")
    assert runner.invoke(app, ["users", "disable", "frank"]).exit_code == 0
    with session_factory(db_url)() as session:
        assert accounts.authenticate(session, "frank", "first-pass-1") is None
    result = runner.invoke(
        app, ["users", "reset-password", "frank", "--password-stdin"], input="second-pass-2\n"
    )
    assert result.exit_code == 0, result.output
    with session_factory(db_url)() as session:
        assert accounts.authenticate(session, "frank", "second-pass-2") is None  # still disabled
    assert runner.invoke(app, ["users", "enable", "frank"]).exit_code == 0
    with session_factory(db_url)() as session:
        assert accounts.authenticate(session, "frank", "first-pass-1") is None
        assert accounts.authenticate(session, "frank", "second-pass-2") is not None
