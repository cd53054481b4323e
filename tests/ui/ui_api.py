"""The real API in-process for the web app tests, on a temporary SQLite database.

The web app's HTTP client takes a transport (``threekcal.ui.client.set_transport_factory``); here it is
Starlette's TestClient into ``threekcal.api.create_app(settings)`` (:class:`AppTransport`), with the
app's lifespan started, recording the requests the pages send. Data is put in through the real API, or
straight into the database where only the pipeline writes (predictions), as its apply step does.

Where a stand-in is still needed (an API that is down or answers 5xx), it is an ``httpx.MockTransport``
that only raises or answers that error, and :func:`assert_routes_exist` checks every request the page
sent against the real app's OpenAPI document.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import insert, update

import threekcal.ui
from threekcal.api import create_app
from threekcal.db import aggregates, migrate
from threekcal.db.models import Comment
from threekcal.db.session import engine_for, session_factory
from threekcal.settings import Settings
from threekcal.ui import client

APP_PATH = Path(threekcal.ui.__file__).with_name("app.py")
API_URL = "http://threekcal-api.test"
UI_ADMIN_TOKEN = "ui-test-admin-token-0123456789"


class AppTransport(httpx.BaseTransport):
    """The web app's ``httpx`` requests, served in-process by the real app through Starlette's TestClient.

    Starlette's TestClient is built on ``httpx2``, not on the ``httpx`` the web app uses, so its transport
    cannot be handed to an ``httpx.Client`` as it is: each request is passed over and the answer copied
    back. Every request is also kept, so a test can check what a page sent.
    """

    def __init__(self, http: TestClient, requests: list[httpx.Request]) -> None:
        self.http, self.requests = http, requests

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = request.read()
        answer = self.http.request(
            request.method,
            str(request.url),
            content=body,
            headers=[(name, value) for name, value in request.headers.multi_items() if name != "host"],
            follow_redirects=False,
        )
        return httpx.Response(
            answer.status_code,
            headers=[
                (name, value)
                for name, value in answer.headers.multi_items()
                if name not in ("content-encoding", "transfer-encoding")
            ],
            content=answer.content,
            request=request,
        )


@dataclass
class RealApi:
    """``threekcal.api.create_app(settings)`` served in-process, and what the pages asked it."""

    settings: Settings
    app: FastAPI
    http: TestClient
    requests: list[httpx.Request] = field(default_factory=list)

    @property
    def token(self) -> str:
        return self.settings.admin_token_value()

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def transport(self) -> httpx.BaseTransport:
        return AppTransport(self.http, self.requests)

    def calls(self, method: str, path: str) -> list[httpx.Request]:
        return [request for request in self.requests if request.method == method and request.url.path == path]

    # ------------------------------------------------------------------ data, through the real API
    def add_comment(
        self,
        request_user: str,
        comments: str,
        *,
        scores: Mapping[str, float] | None = None,
        label: str | None = None,
    ) -> dict[str, Any]:
        response = self.http.post("/comments", json={"request_user": request_user, "comments": comments})
        assert response.status_code == 201, response.text
        created = response.json()
        if scores:
            self.predict(created["num"], scores)
        if label:
            self.set_label(created["num"], label)
        return created

    def set_label(self, num: int, label: str | None, remark: str | None = None) -> dict[str, Any]:
        response = self.http.put(
            f"/comments/{num}/label", json={"label": label, "remark": remark}, headers=self.admin
        )
        assert response.status_code == 200, response.text
        return response.json()

    def predict(self, num: int, scores: Mapping[str, float]) -> None:
        """What the pipeline's apply step writes for a prediction (the API never writes predictions)."""
        best = max(scores, key=scores.__getitem__)
        # An ORM statement: the statistics aggregates count it in the same transaction (db/aggregates.py).
        with session_factory(self.settings.database_url)() as session, session.begin():
            session.execute(
                update(Comment)
                .where(Comment.num == num)
                .values(
                    prediction_result=best,
                    prediction_score=float(scores[best]),
                    prediction_scores=dict(scores),
                    prediction_time=datetime.now(UTC),
                    model_version="ui-test-model",
                )
            )

    def insert_rows(self, rows: list[Mapping[str, Any]]) -> None:
        """Many predicted and labelled comments at once, straight into the database (optional keys:
        ``model_version`` of the prediction, ``audit`` for a label given from the audit queue)."""
        with engine_for(self.settings.database_url).begin() as connection:
            values = [
                {
                    "num": row["num"],
                    "comments": row.get("comments", f"comment {row['num']}"),
                    "request_user": row["request_user"],
                    "request_time": datetime.fromisoformat(row["request_time"]),
                    "receipt": f"receipt-{row['num']}",
                    "prediction_result": row.get("prediction_result"),
                    "prediction_score": row.get("prediction_score"),
                    "prediction_scores": row.get("prediction_scores"),
                    "prediction_time": datetime.now(UTC) if row.get("prediction_result") else None,
                    "model_version": row.get("model_version", "ui-test-model")
                    if row.get("prediction_result")
                    else None,
                    "label": row.get("label"),
                    "labeled_by": "admin" if row.get("label") else None,
                    "labeled_at": datetime.now(UTC) if row.get("label") else None,
                    "audit": bool(row.get("audit", False)),
                }
                for row in rows
            ]
            connection.execute(insert(Comment), values)
            aggregates.add_comments(connection, values)  # the statistics' counts, as an import keeps them

    def comment(self, num: int) -> dict[str, Any]:
        response = self.http.get(f"/comments/{num}", headers=self.admin)
        assert response.status_code == 200, response.text
        return response.json()

    def stats(self, request_user: str | None = None, tz: str | None = None) -> dict[str, Any]:
        params = {key: value for key, value in (("request_user", request_user), ("tz", tz)) if value}
        response = self.http.get("/stats", params=params)
        assert response.status_code == 200, response.text
        return response.json()


def api_settings(tmp_path: Path, **overrides: Any) -> Settings:
    url = f"sqlite:///{tmp_path / 'ui-api.db'}"
    migrate.upgrade(url)
    return Settings(
        env="test",
        database_url=url,
        admin_token=UI_ADMIN_TOKEN,
        log_dir=tmp_path / "logs",
        cache_dir=tmp_path / "cache",
        _env_file=None,
        **overrides,
    )


@contextlib.contextmanager
def serve_api(settings: Settings) -> Iterator[RealApi]:
    """The real app with its lifespan started; every web app client built meanwhile goes to it."""
    app = create_app(settings)
    with TestClient(app, base_url=API_URL) as http:
        api = RealApi(settings=settings, app=app, http=http)
        client.set_transport_factory(api.transport)
        try:
            yield api
        finally:
            client.set_transport_factory(None)
    engine_for(settings.database_url).dispose()


def assert_routes_exist(requests: list[httpx.Request], routes: list[tuple[str, re.Pattern[str]]]) -> None:
    """Every request a page sent to a stand-in is one the real API documents."""
    for request in requests:
        assert any(
            method == request.method and pattern.match(request.url.path) for method, pattern in routes
        ), f"{request.method} {request.url.path} is not an operation of the real API"
