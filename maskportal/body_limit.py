"""ASGI middleware that refuses request bodies over a byte cap before the application buffers them.

Django's ASGI handler reads a whole request body (into a temporary file past
FILE_UPLOAD_MAX_MEMORY_SIZE) before any middleware or view runs, so without a cap in front of it an
anonymous client can fill the disk. This middleware answers 413 at once when `Content-Length`
announces too much, and otherwise counts the body as it arrives and answers 413 as soon as the
running total passes the cap: the application never receives more than `max_bytes`.

It also tells Django the length of a chunked body: Django reads no body without `Content-Length`
(a chunked upload would arrive empty), and it builds the request only after reading the whole
body, so the header added when the last chunk passes through is there when Django looks.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]  # (scope, receive, send); servers' and frameworks' own aliases differ


class BodySizeLimit:
    """Wrap an ASGI application so that no HTTP request body over `max_bytes` reaches it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = list(scope.get("headers", []))
        declared = _content_length(headers)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, send, f"Content-Length {declared}")
            return
        scope = dict(scope, headers=headers)  # our own copy: a chunked body's length is added to it
        received = 0
        refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            if refused:  # the answer is sent; the application sees a client that left
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] != "http.request":
                return message
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                refused = True
                await self._refuse(scope, send, f"more than {self.max_bytes} bytes sent")
                return {"type": "http.disconnect"}
            if declared is None and not message.get("more_body", False):
                headers.append((b"content-length", str(received).encode()))
            return message

        await self.app(scope, limited_receive, send)

    async def _refuse(self, scope: Scope, send: Send, reason: str) -> None:
        logger.warning("%s %s refused with 413: %s", scope.get("method"), scope.get("path"), reason)
        body = f"Request body too large: the limit is {_megabytes(self.max_bytes)}.\n".encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The declared body length; None when absent. A malformed value counts as absent: the
    server's HTTP parser has already refused those, and the running total still applies."""
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _megabytes(size: int) -> str:
    return f"{size / 2**20:g} MB"
