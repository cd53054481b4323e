"""Nothing private in any log line: planted comment text, usernames, receipts, remarks, tokens and a
database password are sent through a real uvicorn server (its access log included) during normal use,
bad input, throttling and database outages, and the captured log records are searched for them."""

from __future__ import annotations

import logging
import secrets
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from db_locks import TableLock
from fastapi import FastAPI
from fastapi.testclient import TestClient

from threekcal.api import create_app
from threekcal.db.session import engine_for
from threekcal.settings import Settings

CLIENT_LOGGERS = ("httpx", "httpcore")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve(app: FastAPI) -> Iterator[str]:
    # log_config=None: uvicorn leaves logging alone, so its access lines reach the test's capture
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, log_level="debug", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def planted() -> dict[str, str]:
    tag = secrets.token_hex(4)
    return {
        "user": f"plantedUser{tag}",
        "text": f"planted comment text {tag}",
        "remark": f"planted remark {tag}",
        "token": f"plantedWrongToken{tag}{'x' * 16}",
        "password": f"plantedPassword{tag}",
    }


def test_no_private_value_reaches_the_logs(
    settings: Settings,
    planted: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
) -> None:
    caplog.set_level(logging.DEBUG)
    # uvicorn's own logging setup (left by another test in this process) stops its loggers propagating
    for name in ("uvicorn", "uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not logger.propagate:
            logger.addHandler(caplog.handler)
            request.addfinalizer(lambda logger=logger: logger.removeHandler(caplog.handler))
    hardened = settings.model_copy(
        update={"db_timeout": 1.0, "submit_rate_limit": "4/minute", "auth_failure_rate_limit": "2/minute"}
    )
    admin = {"Authorization": f"Bearer {settings.admin_token_value()}"}
    user, text = planted["user"], planted["text"]
    receipts: list[str] = []
    for base in _serve(create_app(hardened)):
        with httpx.Client(base_url=base, timeout=30) as client:
            created = client.post("/comments", json={"request_user": user, "comments": text})
            assert created.status_code == 201
            receipts.append(created.json()["receipt"])
            num = created.json()["num"]
            assert client.get(f"/comments/by-receipt/{receipts[0]}").status_code == 200
            assert client.get("/comments/by-receipt/" + "z" * 40).status_code == 404
            assert (
                client.get("/comments", params={"request_user": user, "q": text}, headers=admin).status_code
                == 200
            )
            assert client.get("/stats", params={"request_user": user}).status_code == 200
            labelled = client.put(
                f"/comments/{num}/label", json={"label": "joy", "remark": planted["remark"]}, headers=admin
            )
            assert labelled.status_code == 200
            # bad input
            assert (
                client.post("/comments", json={"request_user": user + "\u202e", "comments": text}).status_code
                == 422
            )
            assert (
                client.post("/comments", json={"request_user": user, "comments": text * 200}).status_code
                == 422
            )
            raw = f'{{"request_user": "{user}", "comments": "{text} '.encode() + b'\xff"}'
            assert (
                client.post(
                    "/comments", content=raw, headers={"content-type": "application/json"}
                ).status_code
                == 422
            )
            assert (
                client.post(
                    "/comments", content=text.encode(), headers={"content-type": "application/json"}
                ).status_code
                == 400
            )
            # wrong tokens, throttled
            wrong = {"Authorization": f"Bearer {planted['token']}"}
            assert [client.get("/comments", headers=wrong).status_code for _ in range(3)] == [401, 401, 429]
            # an outage: the tables locked by another connection
            with TableLock(settings.database_url):
                stuck = client.post("/comments", json={"request_user": user, "comments": text + " again"})
                assert stuck.status_code == 503
            # throttled submissions
            codes = [
                client.post("/comments", json={"request_user": user, "comments": text}).status_code
                for _ in range(4)
            ]
            assert 429 in codes
    # a database that cannot be reached, with a password in its URL
    unreachable = settings.model_copy(
        update={
            "database_url": f"mysql+pymysql://root:{planted['password']}@127.0.0.1:{_free_port()}/x",
            "db_timeout": 1.0,
        }
    )
    with TestClient(create_app(unreachable)) as client:
        down = client.post("/comments", json={"request_user": user, "comments": text})
        assert down.status_code == 503
        assert "127.0.0.1" not in down.text and planted["password"] not in down.text
        assert client.get("/health").status_code == 503

    # the test's own HTTP client logs its URLs: those lines are the client's, not the server's
    server_records = [r for r in caplog.records if not r.name.startswith(CLIENT_LOGGERS)]
    lines = [record.getMessage() for record in server_records]
    everything = "\n".join(lines + [str(r.exc_info) for r in server_records if r.exc_info])
    assert any("/comments/by-receipt/***" in line for line in lines), "the access log was not captured"
    assert any("database unavailable" in line.lower() for line in lines), "the outage was not logged"
    secrets_ = [*planted.values(), *receipts, settings.admin_token_value(), "plantedUser", "planted comment"]
    for value in secrets_:
        assert value not in everything, f"{value!r} leaked into the logs"
    # and database errors, wherever they end up, carry no SQL parameters
    assert engine_for(settings.database_url, hardened.db_timeout).hide_parameters
    assert engine_for(settings.database_url).hide_parameters
