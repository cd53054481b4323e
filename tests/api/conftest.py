"""API fixtures: the app for the test database (SQLite and MariaDB), a client, admin headers, row counts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from threekcal.api import create_app
from threekcal.db.models import Comment, LabelEvent, User
from threekcal.db.session import session_scope
from threekcal.settings import Settings


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def admin(settings: Settings) -> dict[str, str]:
    """The service token THREEKCAL_ADMIN_TOKEN: the built-in account ``admin``."""
    return {"Authorization": f"Bearer {settings.admin_token_value()}"}


class Accounts:
    """Accounts in the test database and bearer headers for them (signed login tokens)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def create(self, name: str, role: str = "annotator", password: str | None = None) -> User:
        from threekcal.db import accounts
        from threekcal.db.session import session_factory

        with session_factory(self.settings.database_url)() as session:
            return accounts.create_user(session, name, role=role, password=password)

    def headers(self, name: str, role: str = "annotator") -> dict[str, str]:
        """Bearer headers of account ``name`` (created with ``role`` when it does not exist yet)."""
        from threekcal.api.auth import issue_access_token
        from threekcal.db import accounts
        from threekcal.db.session import session_factory

        with session_factory(self.settings.database_url)() as session:
            user = accounts.find_user(session, name) or accounts.create_user(
                session, name, role=role, password=None
            )
        return {"Authorization": f"Bearer {issue_access_token(self.settings, user)}"}


@pytest.fixture
def people(settings: Settings) -> Accounts:
    return Accounts(settings)


class Rows:
    """Counts and rows read straight from the database, to check what a request stored."""

    def __init__(self, url: str) -> None:
        self.url = url

    def comments(self) -> int:
        with session_scope(self.url) as session:
            return session.scalar(select(func.count()).select_from(Comment)) or 0

    def events(self) -> int:
        with session_scope(self.url) as session:
            return session.scalar(select(func.count()).select_from(LabelEvent)) or 0

    def comment(self, num: int) -> Comment:
        with session_scope(self.url) as session:
            comment = session.get(Comment, num)
            assert comment is not None
            session.expunge(comment)
            return comment

    def predict(self, num: int, label: str, score: float, scores: dict[str, float] | None = None) -> None:
        """What the pipeline writes for a prediction (the API never does)."""
        from threekcal.db.types import utcnow

        with session_scope(self.url) as session:
            comment = session.get(Comment, num)
            assert comment is not None
            comment.prediction_result = label
            comment.prediction_score = score
            comment.prediction_scores = scores or {label: score}
            comment.prediction_time = utcnow()
            comment.model_version = "test-model"


@pytest.fixture
def rows(db_url: str) -> Rows:
    return Rows(db_url)


@pytest.fixture
def rows_for() -> type[Rows]:
    """Rows for a database other than ``db_url``."""
    return Rows
