"""Sign in, bearer tokens (login, personal, service), disabled accounts, expiry, login throttling."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from threekcal.api import create_app
from threekcal.api.auth import ACCOUNT_DISABLED, TOKEN_EXPIRED, TOKEN_INVALID
from threekcal.db import accounts
from threekcal.db.models import ApiToken
from threekcal.db.session import session_factory
from threekcal.db.types import utcnow
from threekcal.settings import Settings

PASSWORD = "correct-horse-battery"


def login(client: TestClient, username: str, password: str = PASSWORD, address: str | None = None):
    return client.post("/auth/login", data={"username": username, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_login_gives_a_signed_expiring_bearer_token(client: TestClient, people, settings: Settings) -> None:
    people.create("ana", "annotator", PASSWORD)
    response = login(client, "ana")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == settings.access_token_minutes * 60
    claims = jwt.decode(body["access_token"], settings.secret_key_value(), algorithms=["HS256"])
    assert claims["sub"] == "ana" and claims["exp"] - claims["iat"] == settings.access_token_minutes * 60
    me = client.get("/auth/me", headers=bearer(body["access_token"]))
    assert me.json() == {"username": "ana", "role": "annotator"}
    with session_factory(settings.database_url)() as session:
        assert accounts.get_user(session, "ana").last_login_at is not None


@pytest.mark.parametrize(("username", "password"), [("ana", "wrong-password"), ("nobody", PASSWORD)])
def test_wrong_credentials_are_401_with_one_message(client: TestClient, people, username, password) -> None:
    people.create("ana", "annotator", PASSWORD)
    response = login(client, username, password)
    assert response.status_code == 401
    assert response.json() == {"detail": "Wrong username or password, or the account is disabled"}


def test_disabled_account_cannot_log_in_and_its_tokens_stop_working(
    client: TestClient, people, settings: Settings
) -> None:
    people.create("ana", "annotator", PASSWORD)
    token = login(client, "ana").json()["access_token"]
    with session_factory(settings.database_url)() as session:
        personal = accounts.issue_token(session, "ana").token
        accounts.set_active(session, "ana", False)
    assert login(client, "ana").status_code == 401
    for credential in (token, personal):
        response = client.get("/comments", headers=bearer(credential))
        assert response.status_code == 401
        assert response.json() == {"detail": ACCOUNT_DISABLED}


def test_expired_and_forged_tokens_are_401(client: TestClient, people, settings: Settings) -> None:
    user = people.create("ana", "annotator")
    past = utcnow() - timedelta(hours=2)
    claims = {"sub": "ana", "uid": user.id, "typ": "access", "iat": past, "exp": past + timedelta(hours=1)}
    expired = jwt.encode(claims, settings.secret_key_value(), algorithm="HS256")
    response = client.get("/comments", headers=bearer(expired))
    assert response.status_code == 401 and response.json() == {"detail": TOKEN_EXPIRED}
    forged = jwt.encode({**claims, "exp": utcnow() + timedelta(hours=1)}, "x" * 48, algorithm="HS256")
    response = client.get("/comments", headers=bearer(forged))
    assert response.status_code == 401 and response.json() == {"detail": TOKEN_INVALID}
    unsigned = jwt.encode({**claims, "exp": utcnow() + timedelta(hours=1)}, None, algorithm="none")
    assert client.get("/comments", headers=bearer(unsigned)).status_code == 401


def test_personal_token_works_records_last_use_and_is_revocable(
    client: TestClient, people, settings: Settings
) -> None:
    people.create("ana", "annotator")
    with session_factory(settings.database_url)() as session:
        issued = accounts.issue_token(session, "ana", "script")
    assert client.get("/auth/me", headers=bearer(issued.token)).json()["username"] == "ana"
    with session_factory(settings.database_url)() as session:
        row = session.scalars(select(ApiToken)).one()
        assert row.last_used_at is not None and row.token_hash != issued.token
        accounts.revoke_token(session, issued.id)
    response = client.get("/auth/me", headers=bearer(issued.token))
    assert response.status_code == 401 and response.json() == {"detail": TOKEN_INVALID}


def test_service_token_is_the_admin_account(client: TestClient, admin, rows) -> None:
    num = client.post("/comments", json={"request_user": "u", "comments": "t"}).json()["num"]
    assert client.get("/auth/me", headers=admin).json() == {"username": "admin", "role": "admin"}
    client.put(f"/comments/{num}/label", json={"label": "joy"}, headers=admin)
    stored = rows.comment(num)
    assert stored.labeled_by == "admin" and stored.labeled_by_id is not None


def test_a_token_for_a_renamed_or_deleted_account_is_refused(client: TestClient, people, settings) -> None:
    people.create("ana", "annotator")
    token = people.headers("ana")
    with session_factory(settings.database_url)() as session:
        session.delete(accounts.get_user(session, "ana"))
        session.commit()
    assert client.get("/auth/me", headers=token).status_code == 401


def test_login_attempts_are_throttled_per_username(settings: Settings, people) -> None:
    people.create("ana", "annotator", PASSWORD)
    app = create_app(
        settings.model_copy(update={"login_rate_limit": "3/minute", "login_ip_rate_limit": "100/minute"})
    )
    with TestClient(app) as client:
        codes = [login(client, "ana", f"guess-{i}").status_code for i in range(5)]
        assert codes == [401, 401, 401, 429, 429]
        throttled = login(client, "ana")  # even the right password waits: guessing gains nothing
        assert throttled.status_code == 429
        assert int(throttled.headers["Retry-After"]) >= 1
        assert login(client, "other", "whatever-pass").status_code == 401  # other names are not held up


def test_login_attempts_are_throttled_per_client_address(settings: Settings, people) -> None:
    people.create("ana", "annotator", PASSWORD)
    app = create_app(
        settings.model_copy(update={"login_rate_limit": "100/minute", "login_ip_rate_limit": "4/minute"})
    )
    with TestClient(app) as client:
        codes = [login(client, f"name{i}", "guess-pass").status_code for i in range(6)]
        assert codes == [401, 401, 401, 401, 429, 429]
        assert "Retry-After" in login(client, "ana").headers
    with TestClient(app, client=("10.1.2.3", 5000)) as other_address:
        assert login(other_address, "ana").status_code == 200


def test_login_form_without_password_is_422(client: TestClient) -> None:
    assert client.post("/auth/login", data={"username": "ana"}).status_code == 422
