"""Rate limits: per username and per address on POST /comments, wrong admin tokens per address,
X-Forwarded-For believed only from trusted proxies, and limits shared between processes through Redis."""

from __future__ import annotations

import secrets

import pytest
import redis
from fastapi.testclient import TestClient

from threekcal.api import create_app
from threekcal.settings import Settings

REDIS_URL = "redis://127.0.0.1:6379"


def _post(client: TestClient, user: str, headers: dict[str, str] | None = None) -> int:
    return client.post(
        "/comments", json={"request_user": user, "comments": "hello"}, headers=headers
    ).status_code


def test_submissions_are_limited_per_username(settings: Settings, rows) -> None:
    app = create_app(settings.model_copy(update={"submit_rate_limit": "5/minute"}))
    with TestClient(app) as client:
        codes = [_post(client, "flooder") for _ in range(8)]
        assert codes == [201] * 5 + [429] * 3
        refused = client.post("/comments", json={"request_user": "flooder", "comments": "again"})
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert refused.headers["RateLimit-Limit"] == "5"
        assert refused.headers["RateLimit-Remaining"] == "0"
        assert int(refused.headers["RateLimit-Reset"]) >= 1
        assert _post(client, "someone-else") == 201
    assert rows.comments() == 6


def test_submissions_are_limited_per_address(settings: Settings, rows) -> None:
    app = create_app(settings.model_copy(update={"submit_ip_rate_limit": "4/minute"}))
    with TestClient(app) as client:
        codes = [_post(client, f"user{i}") for i in range(6)]
    assert codes == [201] * 4 + [429] * 2
    assert rows.comments() == 4


def test_forwarded_for_is_believed_only_from_trusted_proxies(settings: Settings) -> None:
    limited = {"submit_ip_rate_limit": "2/minute"}
    spoofed = {"X-Forwarded-For": "198.51.100.7"}
    with TestClient(create_app(settings.model_copy(update=limited))) as client:
        # an untrusted peer cannot escape its limit by forging X-Forwarded-For
        codes = [_post(client, f"u{i}", {"X-Forwarded-For": f"198.51.100.{i}"}) for i in range(3)]
        assert codes == [201, 201, 429]
    trusted = Settings.model_validate(
        settings.model_dump() | limited | {"trusted_proxies": "127.0.0.1", "_env_file": None}
    )
    app = create_app(trusted)
    with TestClient(app, client=("127.0.0.1", 50000)) as client:
        codes = [_post(client, f"v{i}", {"X-Forwarded-For": f"203.0.113.{i}, 127.0.0.1"}) for i in range(4)]
        assert codes == [201] * 4  # four different clients behind the proxy
        codes = [_post(client, f"w{i}", spoofed) for i in range(3)]
        assert codes == [201, 201, 429]


def test_wrong_admin_tokens_are_throttled_per_address(settings: Settings, admin: dict[str, str]) -> None:
    app = create_app(settings.model_copy(update={"auth_failure_rate_limit": "3/minute"}))
    wrong = {"Authorization": "Bearer " + "x" * 30}
    with TestClient(app) as client:
        codes = [client.get("/comments", headers=wrong).status_code for _ in range(5)]
        assert codes == [401, 401, 401, 429, 429]
        # while throttled even the right token waits: guessing gains nothing
        refused = client.get("/comments", headers=admin)
        assert refused.status_code == 429
        assert "Retry-After" in refused.headers
    other_app = create_app(settings.model_copy(update={"auth_failure_rate_limit": "3/minute"}))
    with TestClient(other_app) as client:
        assert client.get("/comments", headers=admin).status_code == 200


@pytest.mark.redis
def test_limits_are_shared_between_processes_through_redis(settings: Settings, rows) -> None:
    server = redis.Redis.from_url(REDIS_URL, socket_timeout=3)
    server.ping()
    prefix = f"threekcal-test-{secrets.token_hex(6)}"
    shared = settings.model_copy(
        update={"rate_limit_storage": REDIS_URL, "rate_limit_prefix": prefix, "submit_rate_limit": "6/minute"}
    )
    try:
        with TestClient(create_app(shared)) as first, TestClient(create_app(shared)) as second:
            codes = [_post(first if i % 2 else second, "shared-user") for i in range(10)]
        assert codes.count(201) == 6
        assert codes[6:] == [429] * 4
        assert rows.comments() == 6
        # the same limits in memory are per process: each instance would accept 6
        alone = settings.model_copy(update={"submit_rate_limit": "6/minute"})
        with TestClient(create_app(alone)) as first, TestClient(create_app(alone)) as second:
            codes = [_post(first if i % 2 else second, "memory-user") for i in range(12)]
        assert codes.count(201) == 12
    finally:
        for key in server.scan_iter(f"{prefix}*"):
            server.delete(key)


def test_a_rate_limit_storage_that_is_down_lets_requests_through(settings: Settings) -> None:
    dead = settings.model_copy(
        update={"rate_limit_storage": "redis://127.0.0.1:1", "submit_rate_limit": "1/minute"}
    )
    with TestClient(create_app(dead)) as client:
        assert [_post(client, "u") for _ in range(2)] == [201, 201]


def test_several_windows_each_count_and_the_full_one_is_reported(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"submit_rate_limit": "100/minute;3/hour"}))
    with TestClient(app) as client:
        assert [_post(client, "hourly") for _ in range(3)] == [201] * 3
        refused = client.post("/comments", json={"request_user": "hourly", "comments": "more"})
    assert refused.status_code == 429
    assert refused.headers["RateLimit-Limit"] == "3"
    assert 60 < int(refused.headers["Retry-After"]) <= 3600
