"""gunicorn's configuration for the web process (`deploy/start-web` loads it): gunicorn manages
uvicorn workers that serve `maskportal.asgi:application` (pages, REST API and WebSockets).

Environment: MASKPORTAL_HOST / MASKPORTAL_PORT (where to listen, default 127.0.0.1:8000),
WEB_CONCURRENCY (worker processes, default 1; more than one needs REDIS_URL), and gunicorn's own
GUNICORN_CMD_ARGS for anything else.
"""

from __future__ import annotations

import logging
import os
import re
import sys

from uvicorn_worker import UvicornWorker as _UvicornWorker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "maskportal.settings.development")
from django.conf import settings  # noqa: E402  only the settings (.env included), not the app

bind = f"{os.environ.get('MASKPORTAL_HOST', '127.0.0.1')}:{os.environ.get('MASKPORTAL_PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
worker_class = "maskportal.gunicorn_conf.UvicornWorker"
#: Seconds open sockets get to close on shutdown before they are cut (Ctrl-C never hangs).
graceful_timeout = 10
#: Seconds a worker may go silent (its event loop blocked, or booting: loading Django and the engine's
#: runtimes takes a while on a busy machine) before gunicorn replaces it; requests themselves run in threads.
timeout = 120
accesslog = "-"
#: No runtime control socket: it would sit in the service user's home, one for every web process.
control_socket_disable = True

if workers > 1 and not settings.REDIS_URL:  # a socket would miss the other processes' events
    sys.exit("WEB_CONCURRENCY > 1 needs REDIS_URL: live events are shared between web processes through Redis")


class RedactTokens(logging.Filter):
    """Tokens belong in headers, but a client may still put one in a query string: the access log
    and uvicorn's WebSocket lines show it as [redacted]."""

    pattern = re.compile(r"([?&](?:token|access_token|key)=)[^&\s\"]+", re.IGNORECASE)

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        redacted = self.pattern.sub(r"\1[redacted]", text)
        if redacted != text:
            record.msg, record.args = redacted, ()
        return True


class UvicornWorker(_UvicornWorker):
    """uvicorn's gunicorn worker with the platform's WebSocket message cap; no lifespan protocol
    (Channels' router does not speak it); tokens redacted from its logs."""

    CONFIG_KWARGS = {
        **_UvicornWorker.CONFIG_KWARGS,
        "lifespan": "off",
        "ws_max_size": settings.WS_MAX_MESSAGE_BYTES,
    }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in ("uvicorn.access", "uvicorn.error"):
            logging.getLogger(name).addFilter(RedactTokens())
