"""Django's HTTP side served by its sync (WSGI) handler on a pool of threads, inside the ASGI server.

Every view of the platform is sync. Django's ASGI handler runs each request in a thread of its own and
crosses back to the event loop for URL resolution, signals and any async-capable middleware hook
(6 to 16 crossings a request, each a thread switch and a wait for the GIL). Here the whole request,
middleware and view, runs once in a pooled thread, as under a threaded WSGI server, and only the
reply crosses back: up to 15% more analyses a second and a lower p95 in alternating rounds of
`benchmarks/api_latency.py` (README, "Platform"). WebSockets stay with Channels (`maskportal/asgi.py`).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from tempfile import SpooledTemporaryFile
from typing import Any

from asgiref.sync import AsyncToSync, sync_to_async
from asgiref.wsgi import WsgiToAsgiInstance
from django.conf import settings

logger = logging.getLogger(__name__)


class _Request(WsgiToAsgiInstance):
    """One request: asgiref builds the environ and the response start; the app runs in `executor`."""

    def __init__(self, wsgi_application, executor: ThreadPoolExecutor) -> None:
        super().__init__(wsgi_application)
        self.executor = executor

    async def __call__(self, scope, receive, send) -> None:
        self.scope = scope
        with SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE) as body:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":  # nobody is left to answer
                    logger.info("%s %s: client left before sending the whole body", scope["method"], scope["path"])
                    return
                body.write(message.get("body", b""))
                if not message.get("more_body"):
                    break
            body.seek(0)
            self.sync_send = AsyncToSync(send)
            await self.run_wsgi_app(body)

    def build_environ(self, scope, body) -> dict[str, Any]:
        environ = super().build_environ(scope, body)
        # The body is read whole before the app runs, so its length is known even when the client
        # sent it chunked (Django reads no body without CONTENT_LENGTH).
        body.seek(0, 2)
        environ["CONTENT_LENGTH"] = str(body.tell())
        body.seek(0)
        return environ

    async def run_wsgi_app(self, body) -> None:
        await sync_to_async(self._run, thread_sensitive=False, executor=self.executor)(body)

    def _run(self, body) -> None:
        try:
            environ = self.build_environ(self.scope, body)
        except ValueError as exc:  # too many duplicate headers
            logger.warning("%s %s: %s", self.scope["method"], self.scope["path"], exc)
            self.start_response("400 Bad Request", [("Content-Type", "text/plain")])
            self._send_start()
            self.sync_send({"type": "http.response.body", "body": str(exc).encode()})
            return
        response = self.wsgi_application(environ, self.start_response)
        try:  # close() sends request_finished, which hands the database connection back
            if getattr(response, "streaming", True):
                for chunk in response:
                    self._send_start()
                    self.sync_send({"type": "http.response.body", "body": chunk, "more_body": True})
                last = b""
            else:  # a whole response goes back in one message
                last = response.content
        finally:
            response.close()
        self._send_start()
        self.sync_send({"type": "http.response.body", "body": last})

    def _send_start(self) -> None:
        if not self.response_started:
            self.response_started = True
            self.sync_send(self.response_start)


class SyncDjangoHTTP:
    """ASGI application for HTTP scopes that runs a WSGI application on `threads` pooled threads."""

    def __init__(self, wsgi_application, threads: int) -> None:
        self.wsgi_application = wsgi_application
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="http")

    async def __call__(self, scope, receive, send) -> None:
        await _Request(self.wsgi_application, self.executor)(scope, receive, send)
