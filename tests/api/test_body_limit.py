"""Request bodies are limited while they stream in: declared, chunked, or over a real socket."""

from __future__ import annotations

import asyncio
import json
import select
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi import FastAPI

from threekcal.settings import Settings


def _scope(headers: list[tuple[bytes, bytes]]) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/comments",
        "raw_path": b"/comments",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }


def _call(app: FastAPI, chunks: list[bytes], headers: list[tuple[bytes, bytes]]) -> tuple[int, dict, int]:
    """Runs one request through the ASGI app; returns status, JSON body and how many chunks it read."""
    pending = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)
    ]
    read = 0
    sent: list[dict] = []

    async def receive() -> dict:
        nonlocal read
        if pending:
            read += 1
            return pending.pop(0)
        await asyncio.sleep(3600)  # a client that sent everything waits for the answer
        raise AssertionError("unreachable")

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app(_scope(headers), receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body), read


def _payload(size: int) -> bytes:
    return json.dumps({"request_user": "kim", "comments": "x" * size}).encode()


def test_chunked_body_over_the_limit_is_cut_off_while_streaming(
    app: FastAPI, settings: Settings, rows
) -> None:
    limit = settings.max_body_bytes
    body = _payload(limit * 4)
    chunks = [body[i : i + 4096] for i in range(0, len(body), 4096)]
    status, answer, read = _call(app, chunks, [(b"transfer-encoding", b"chunked")])
    assert status == 413
    assert answer == {"detail": f"Request body too large: limit is {limit} bytes"}
    assert read == limit // 4096 + 1  # stopped at the first chunk past the limit, not at the end
    assert rows.comments() == 0


def test_declared_length_over_the_limit_is_refused_before_reading(
    app: FastAPI, settings: Settings, rows
) -> None:
    status, answer, read = _call(
        app, [b"{}"], [(b"content-length", str(settings.max_body_bytes + 1).encode())]
    )
    assert (status, read) == (413, 0)
    assert answer == {"detail": f"Request body too large: limit is {settings.max_body_bytes} bytes"}
    assert rows.comments() == 0


def test_chunked_body_under_the_limit_is_accepted(app: FastAPI, rows) -> None:
    body = _payload(1500)
    status, answer, _ = _call(app, [body[i : i + 100] for i in range(0, len(body), 100)], [])
    assert status == 201 and len(answer["comments"]) == 1500
    assert rows.comments() == 1


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield port
    server.should_exit = True
    thread.join(10)


def _chunked_request(port: int, body: bytes, chunk: int = 8192) -> bytes:
    """Sends the body in chunks like a streaming client, and stops sending once the server has answered
    (as HTTP clients do: going on would make the server reset the connection)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(
            b"POST /comments HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        for i in range(0, len(body), chunk):
            part = body[i : i + chunk]
            connection.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            if select.select([connection], [], [], 0.005)[0]:
                break
        else:
            connection.sendall(b"0\r\n\r\n")
        answer = b""
        while data := connection.recv(65536):
            answer += data
        return answer


def test_real_chunked_upload_over_the_limit_gets_413(live_server: int, settings: Settings, rows) -> None:
    answer = _chunked_request(live_server, _payload(settings.max_body_bytes * 16))
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    assert json.loads(body) == {"detail": f"Request body too large: limit is {settings.max_body_bytes} bytes"}
    ok = _chunked_request(live_server, _payload(100))
    assert ok.startswith(b"HTTP/1.1 201 ")
    assert rows.comments() == 1
