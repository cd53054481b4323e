"""ASGI middleware: the request body size limit (enforced while the body streams in, chunked bodies
included), invalid UTF-8 in JSON bodies made visible to the field checks, and the answer deadline."""

from __future__ import annotations

import asyncio
import json
import logging

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)


def too_large_message(limit: int) -> str:
    return f"Request body too large: limit is {limit} bytes"


class BodySizeLimitMiddleware:
    """Answers 413 when a request body exceeds ``max_bytes``.

    A declared Content-Length over the limit is refused before the app runs. Otherwise the bytes are
    counted as ``http.request`` messages arrive, so a chunked body (no Content-Length) or one that lies
    about its length is cut off at the limit instead of being buffered whole. The overflow is raised as
    an HTTPException, which FastAPI re-raises untouched from its body reading and answers as 413.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0  # the server rejects a malformed Content-Length itself
                if declared > self.max_bytes:
                    await self._refuse(send)
                    return
                break

        received = 0
        limit = self.max_bytes

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(status_code=413, detail=too_large_message(limit))
            return message

        await self.app(scope, counting_receive, send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"detail": too_large_message(self.max_bytes)}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class DeadlineMiddleware:
    """Answers 503 with Retry-After when the app has not started its answer within ``seconds``.

    The database wait bounds (driver, statement and lock timeouts) free the worker thread soon after, but
    a sync route cannot be cancelled from outside its thread: the app keeps running in the background and
    whatever it would have sent is dropped. Once an answer has started (a streamed export) it runs on.
    """

    def __init__(self, app: ASGIApp, seconds: float, retry_after: int, detail: str) -> None:
        self.app = app
        self.seconds = seconds
        self.body = json.dumps({"detail": detail}).encode()
        self.retry_after = str(retry_after)
        self._background: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = asyncio.Event()
        abandoned = False

        async def guarded_send(message: Message) -> None:
            if abandoned:
                return
            started.set()
            await send(message)

        task = asyncio.create_task(self.app(scope, receive, guarded_send))
        waiter = asyncio.create_task(started.wait())
        done, _ = await asyncio.wait(
            {task, waiter}, timeout=self.seconds, return_when=asyncio.FIRST_COMPLETED
        )
        waiter.cancel()
        if done:
            await task  # the answer has started (or the app is done): let it finish, errors included
            return
        abandoned = True
        self._background.add(task)
        task.add_done_callback(self._forget)
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(self.body)).encode()),
                    (b"retry-after", self.retry_after.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": self.body})

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("abandoned request ended with %s", type(task.exception()).__name__)


def escape_invalid_utf8(body: bytes) -> bytes:
    """Each byte that is not valid UTF-8 becomes the JSON escape of a lone surrogate (\\udc80-\\udcff).
    Inside a JSON string the field check then refuses it with a 422 naming the field; outside one the
    body is malformed JSON (400)."""
    text = body.decode("utf-8", "surrogateescape")
    return "".join(f"\\u{ord(char):04x}" if "\udc80" <= char <= "\udcff" else char for char in text).encode(
        "utf-8"
    )


class InvalidUtf8JsonMiddleware:
    """Makes invalid UTF-8 in a JSON body reach the field validators instead of a generic parse error."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        delivered = False

        async def whole_body_receive() -> Message:
            # Read lazily, inside the app's own body reading, so a 413 from the size limit is answered there.
            nonlocal delivered
            if delivered:
                return await receive()
            chunks: list[bytes] = []
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return message
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            delivered = True
            body = b"".join(chunks)
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                body = escape_invalid_utf8(body)
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, whole_body_receive, send)


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return b"json" in value.lower()
    return False
