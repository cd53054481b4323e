"""Request body size limit enforced while the body streams in, chunked bodies included."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


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
