"""Database outages answer 503 "database unavailable" (nothing about hosts), store nothing, and the server
recovers by itself."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import make_url

from testnet import HeldPort, TcpProxy
from threekcal.api import create_app
from threekcal.api.errors import DATABASE_UNAVAILABLE
from threekcal.db import migrate
from threekcal.db.session import engine_for
from threekcal.settings import Settings

COMMENT = {"request_user": "kim", "comments": "still there?"}


def settings_for(url: str, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        database_url=url,
        admin_token="outage-admin-token-0123456789",
        log_dir=tmp_path / "logs",
        cache_dir=tmp_path / "cache",
        _env_file=None,
    )


def test_unreachable_mariadb_is_503_on_every_database_route(tmp_path: Path) -> None:
    held = HeldPort()  # bound, never listening: a connection is refused; and no one else gets the port
    url = f"mysql+pymysql://root@127.0.0.1:{held.port}/threekcal?charset=utf8mb4"
    settings = settings_for(url, tmp_path)
    admin = {"Authorization": "Bearer outage-admin-token-0123456789"}
    expected = {"detail": DATABASE_UNAVAILABLE}
    with TestClient(create_app(settings)) as client:
        for method, path, body, headers in [
            ("POST", "/comments", COMMENT, {}),
            ("GET", "/comments/by-receipt/abc", None, {}),
            ("GET", "/stats", None, {}),
            ("GET", "/health", None, {}),
            ("GET", "/comments", None, admin),
            ("PUT", "/comments/1/label", {"label": "joy"}, admin),
            ("POST", "/labels/accept", {"nums": [1]}, admin),
            ("GET", "/export", None, admin),
        ]:
            response = client.request(method, path, json=body, headers=headers)
            assert response.status_code == 503, (path, response.text)
            assert response.json() == expected
            assert response.headers["retry-after"] == "5"
    engine_for(url, settings.db_timeout).dispose()
    held.release()


def test_unopenable_sqlite_file_is_503(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}"  # a directory, not a database file
    settings = settings_for(url, tmp_path)
    with TestClient(create_app(settings)) as client:
        response = client.post("/comments", json=COMMENT)
    assert response.status_code == 503
    assert response.json() == {"detail": DATABASE_UNAVAILABLE}
    engine_for(url, settings.db_timeout).dispose()


def test_recovers_when_connections_work_again(client: TestClient, settings: Settings, rows) -> None:
    """Every new connection fails for a while (the pool emptied, as after a server restart)."""
    engine = engine_for(settings.database_url, settings.db_timeout)  # the API's engine
    outage = threading.Event()

    def refuse(dialect, connection_record, cargs, cparams) -> None:
        if outage.is_set():
            raise dialect.loaded_dbapi.OperationalError("server restarting (simulated)")

    event.listen(engine, "do_connect", refuse)
    try:
        assert client.post("/comments", json=COMMENT).status_code == 201
        outage.set()
        engine.dispose()
        for path in ("/comments", "/health"):
            response = client.request("POST" if path == "/comments" else "GET", path, json=COMMENT)
            assert response.status_code == 503
            assert response.json() == {"detail": DATABASE_UNAVAILABLE}
        outage.clear()
        assert client.post("/comments", json=COMMENT).status_code == 201
        assert client.get("/health").status_code == 200
    finally:
        event.remove(engine, "do_connect", refuse)
    assert rows.comments() == 2


@pytest.mark.mariadb
def test_mariadb_connection_cut_and_restored(mariadb_server_url: str, tmp_path: Path, rows_for) -> None:
    """Pooled connections die with the server; requests answer 503; once it is back, requests succeed.
    (A TCP outage needs a database server: MariaDB only.)"""
    migrate.upgrade(mariadb_server_url)
    rows = rows_for(mariadb_server_url)
    before = rows.comments()
    parsed = make_url(mariadb_server_url)
    proxy = TcpProxy((parsed.host or "127.0.0.1", parsed.port or 3306))
    url = parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    settings = settings_for(url, tmp_path)
    # Relative to the statistics' own count (read by another app, whose cache this test does not touch):
    # other tests write rows straight into this shared database.
    with TestClient(create_app(settings)) as other:
        total = other.get("/stats").json()["counts"]["total"]
    try:
        with TestClient(create_app(settings)) as client:
            assert client.post("/comments", json=COMMENT).status_code == 201
            proxy.cut()
            down = client.post("/comments", json=COMMENT)
            assert down.status_code == 503
            assert down.json() == {"detail": DATABASE_UNAVAILABLE}
            assert client.get("/stats").status_code == 503
            proxy.restore()
            assert client.post("/comments", json=COMMENT).status_code == 201
            assert client.get("/stats").json()["counts"]["total"] == total + 2
    finally:
        proxy.close()
        engine_for(url, settings.db_timeout).dispose()
    assert rows.comments() == before + 2
