"""Every route of the app x {anonymous, annotator, admin, disabled account, expired token} against the
policy table: a route without a policy entry (or without its check) fails here."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jwt
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from threekcal.api import create_app, policy
from threekcal.db import accounts
from threekcal.db.session import session_factory
from threekcal.db.types import utcnow
from threekcal.settings import Settings

PASSWORD = "policy-pass-123"
# One request per route that passes validation for an allowed caller ({num}: a seeded comment).
SAMPLES: dict[str, dict[str, Any]] = {
    "POST /comments": {"json": {"request_user": "u", "comments": "hello"}},
    "GET /comments/by-receipt/{receipt}": {"path": {"receipt": "RECEIPT"}},
    "GET /comments": {},
    "GET /comments/{num}": {},
    "PUT /comments/{num}/label": {"json": {"label": "joy"}},
    "GET /comments/{num}/history": {},
    "POST /labels/accept": {"json": {"nums": [1]}},
    "POST /labels/undo": {"json": {}},
    "GET /stats": {},
    "GET /stats/daily": {},
    "GET /stats/agreement": {},
    "GET /users": {},
    "GET /export": {},
    "GET /comments/export": {},
    "GET /disagreements": {},
    "POST /disagreements/{num}/resolve": {"json": {"label": "joy"}},
    "GET /accounts": {},
    "GET /health": {},
    "GET /pipeline": {},
    "POST /auth/login": {"data": {"username": "ana", "password": PASSWORD}},
    "GET /auth/me": {},
    "GET /models": {},
    "GET /models/{version_id}": {"path": {"version_id": 1}},  # 404 for an empty registry: let through
    "GET /models/jobs/{job_id}": {"path": {"job_id": 1}},
    "POST /models/{version_id}/promote": {"path": {"version_id": 1}},
    "POST /models/rollback": {},
    "POST /models/train": {"json": {}},
    "POST /models/rescore": {},
    "GET /drift": {},
}
CALLERS = ("anonymous", "annotator", "admin", "disabled", "expired")


def _routes(app: FastAPI) -> dict[str, APIRoute]:
    return {
        f"{method} {route.path}": route
        for route in app.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }


def test_every_route_has_a_policy_entry_and_checks_it(settings: Settings) -> None:
    routes = _routes(create_app(settings))
    assert set(routes) == set(policy.ROUTES), "a route without a policy entry, or an entry without a route"
    assert set(routes) == set(SAMPLES)
    for key, route in routes.items():
        checks = [dep.call for dep in route.dependant.dependencies if hasattr(dep.call, "action")]
        checks += [
            dep.call
            for top in route.dependant.dependencies
            for dep in top.dependencies
            if hasattr(dep.call, "action")
        ]
        assert [check.action for check in checks] == [policy.ROUTES[key]], key


def test_roles_follow_the_issue() -> None:
    annotator = {a for a in policy.Action if policy.allowed("annotator", a)}
    admin = {a for a in policy.Action if policy.allowed("admin", a)}
    A = policy.Action
    assert {A.BROWSE, A.LABEL, A.UNDO_OWN} <= annotator
    assert not {A.BULK_ACCEPT, A.UNDO_ANY, A.EXPORT, A.USER_STATS, A.MANAGE_USERS, A.RESOLVE} & annotator
    assert A.READ_MODELS in annotator and A.MANAGE_MODELS not in annotator  # issue 11: admins change models
    assert A.READ_MODELS not in policy.PUBLIC  # model authors and job log tails need an account
    assert annotator < admin == set(policy.Action)
    assert {a for a in policy.Action if policy.allowed(None, a)} == set(policy.PUBLIC)


@pytest.fixture
def callers(settings: Settings) -> dict[str, dict[str, str]]:
    from threekcal.api.auth import issue_access_token

    with session_factory(settings.database_url)() as session:
        ana = accounts.create_user(session, "ana", role="annotator", password=PASSWORD)
        boss = accounts.create_user(session, "boss", role="admin", password=None)
        gone = accounts.create_user(session, "gone", role="admin", password=None)
        gone_token = issue_access_token(settings, gone)
        accounts.set_active(session, "gone", False)
        past = utcnow() - timedelta(hours=3)
        expired = jwt.encode(
            {"sub": "boss", "uid": boss.id, "typ": "access", "iat": past, "exp": past + timedelta(hours=1)},
            settings.secret_key_value(),
            algorithm="HS256",
        )
        tokens = {
            "annotator": issue_access_token(settings, ana),
            "admin": issue_access_token(settings, boss),
            "disabled": gone_token,
            "expired": expired,
        }
    return {"anonymous": {}, **{name: {"Authorization": f"Bearer {t}"} for name, t in tokens.items()}}


def expected(action: policy.Action, caller: str) -> str:
    if action in policy.PUBLIC:
        return "through"
    if caller in ("anonymous", "disabled", "expired"):
        return "401"
    return "through" if policy.allowed(caller, action) else "403"


def test_route_by_caller_table(settings: Settings, callers: dict[str, dict[str, str]]) -> None:
    app = create_app(settings.model_copy(update={"login_rate_limit": "1000/minute"}))
    with TestClient(app) as client:
        created = client.post("/comments", json={"request_user": "u", "comments": "seed"}).json()
        table: dict[tuple[str, str], int] = {}
        for key, sample in SAMPLES.items():
            method, path = key.split(" ", 1)
            url = path.format(
                **{"num": created["num"], "receipt": created["receipt"], **sample.get("path", {})}
            )
            for caller in CALLERS:
                kwargs = {k: v for k, v in sample.items() if k in ("json", "data")}
                response = client.request(method, url, headers=callers[caller], **kwargs)
                table[key, caller] = response.status_code
                want = expected(policy.ROUTES[key], caller)
                if want == "through":
                    assert response.status_code not in (401, 403) and response.status_code < 500, (
                        key, caller, response.status_code, response.text,
                    )  # fmt: skip
                else:
                    assert response.status_code == int(want), (
                        key,
                        caller,
                        response.status_code,
                        response.text,
                    )
    # the table covers every route for every caller
    assert len(table) == len(policy.ROUTES) * len(CALLERS)
