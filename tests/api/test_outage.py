"""Database outages answer 503 "database unavailable" (nothing about hosts), store nothing, and the server
recovers by itself."""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import make_url

from threekcal.api import create_app
from threekcal.api.errors import DATABASE_UNAVAILABLE
from threekcal.db import migrate
from threekcal.db.session import engine_for
from threekcal.settings import Settings

COMMENT = {"request_user": "kim", "comments": "still there?"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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
    url = f"mysql+pymysql://root@127.0.0.1:{free_port()}/threekcal?charset=utf8mb4"  # nothing listens there
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


class TcpProxy:
    """A port forwarder that can be cut and restored, like a database server going away and coming back."""

    def __init__(self, target: tuple[str, int], port: int) -> None:
        self.target, self.port = target, port
        self.sockets: list[socket.socket] = []
        self.listener: socket.socket | None = None

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        assert self.listener is not None
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone does not
        self.listener.close()
        for s in self.sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        self.sockets.clear()


@pytest.mark.mariadb
def test_mariadb_connection_cut_and_restored(mariadb_server_url: str, tmp_path: Path, rows_for) -> None:
    """Pooled connections die with the server; requests answer 503; once it is back, requests succeed.
    (A TCP outage needs a database server: MariaDB only.)"""
    migrate.upgrade(mariadb_server_url)
    rows = rows_for(mariadb_server_url)
    before = rows.comments()
    parsed = make_url(mariadb_server_url)
    proxy = TcpProxy((parsed.host or "127.0.0.1", parsed.port or 3306), free_port())
    url = parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    settings = settings_for(url, tmp_path)
    proxy.start()
    try:
        with TestClient(create_app(settings)) as client:
            assert client.post("/comments", json=COMMENT).status_code == 201
            proxy.stop()
            down = client.post("/comments", json=COMMENT)
            assert down.status_code == 503
            assert down.json() == {"detail": DATABASE_UNAVAILABLE}
            assert client.get("/stats").status_code == 503
            proxy.start()
            assert client.post("/comments", json=COMMENT).status_code == 201
            assert client.get("/stats").json()["counts"]["total"] == before + 2
    finally:
        proxy.stop()
        engine_for(url, settings.db_timeout).dispose()
    assert rows.comments() == before + 2
