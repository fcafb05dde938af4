"""What the platform does while a back end is down: which errors are transient, how work is queued
when the broker may be unreachable, and the clear 503 a request gets instead of a 500 or a hang.

The database holds the truth of every job, so a message that cannot be sent is never an error
the user pays for: the job row stays "queued" and the recovery sweeps (beat, worker start) send it
once the broker is back. Requests that really need a back end that is down answer 503 with a
`Retry-After` header (JSON for the API, a short page otherwise), never a traceback.
"""

from __future__ import annotations

import errno
import logging
import sys
from collections.abc import Callable

import kombu.exceptions
from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

#: Errors of an unreachable database (down, restarting, timed out).
DATABASE_ERRORS: tuple[type[BaseException], ...] = (DatabaseOperationalError, DatabaseInterfaceError)


def broker_errors() -> tuple[type[BaseException], ...]:
    """Errors of an unreachable broker or cache (Redis down, restarting, refusing connections).

    Redis's own errors are included once the redis client is loaded (before that none can be
    raised), so a process on the embedded back ends does not pay for importing it. Use it in an
    `except` clause, where it is evaluated only when an exception is being matched.
    """
    loaded = sys.modules.get("redis.exceptions")
    redis_errors = (loaded.ConnectionError, loaded.TimeoutError) if loaded else ()
    return (kombu.exceptions.OperationalError, ConnectionError, TimeoutError, *redis_errors)


def transient_errors() -> tuple[type[BaseException], ...]:
    """Errors worth retrying a task for (they go away when the back end comes back); for the task
    decorators of worker processes, which talk to Redis anyway."""
    import redis.exceptions  # noqa: F401  (loaded: broker_errors() includes its errors)

    return broker_errors() + DATABASE_ERRORS


#: Seconds a client is asked to wait before trying again.
RETRY_AFTER_S = 10
#: Errno values of a storage that cannot be written at all (full, read-only, no permission).
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.EFBIG})


class StorageUnavailable(OSError):
    """The media storage cannot take a file (disk full, read-only, no permission); says which."""

    REASONS: dict[int, str] = {
        errno.ENOSPC: "the media disk is full",
        errno.EDQUOT: "the media disk quota is exhausted",
        errno.EFBIG: "the media disk refused a file this large",
        errno.EROFS: "the media folder is read-only",
        errno.EACCES: "the media folder is not writable",
        errno.EPERM: "the media folder is not writable",
    }

    def __init__(self, cause: OSError) -> None:
        reason = self.REASONS.get(cause.errno or 0) or cause.strerror or "the storage refused the file"
        super().__init__(cause.errno, f"could not store the file: {reason}")

    def __str__(self) -> str:
        return self.strerror or ""


def storage_error(exc: OSError) -> OSError:
    """`exc` as a StorageUnavailable when the storage as a whole cannot be written, else unchanged."""
    return StorageUnavailable(exc) if exc.errno in STORAGE_ERRNOS and not isinstance(exc, StorageUnavailable) else exc


def send(publish: Callable[[], object], what: str) -> bool:
    """Publish a task message; when the broker is unreachable, log it and return False (the job row
    stays queued and a recovery sweep sends it later) instead of failing committed work."""
    try:
        publish()
    except broker_errors() as exc:
        logger.warning("could not queue %s (%s): the recovery sweep will queue it when the broker is back", what, exc)
        return False
    return True


def send_after_commit(publish: Callable[[], object], what: str) -> None:
    """`send` once the current transaction commits (a worker must find the rows it is sent for)."""
    transaction.on_commit(lambda: send(publish, what), robust=True)


def queue_length(name: str) -> int | None:
    """Messages waiting in queue `name` (not those a worker holds); None when the broker cannot say.

    A job that is queued but whose message is no longer waiting was lost (e.g. Redis restarted
    without persistence), so the sweeps send it again; one whose message still waits is not touched.
    """
    from celery import current_app

    try:
        with current_app.connection_for_read(connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)  # an unreachable broker answers at once, not after retries
            return int(conn.default_channel.queue_declare(queue=name, passive=True).message_count)
    except Exception as exc:  # an undeclared queue is empty; an unreachable broker answers None
        if isinstance(exc, broker_errors()):
            return None
        return 0


def unavailable_response(request: HttpRequest, message: str) -> HttpResponse:
    """503 with Retry-After: JSON under /api/, a plain page elsewhere (no traceback, no path)."""
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"detail": message, "retry_after": RETRY_AFTER_S}, status=503)
    else:
        response = HttpResponse(
            render_to_string("503.html", {"message": message, "retry_after": RETRY_AFTER_S}), status=503
        )
    response["Retry-After"] = str(RETRY_AFTER_S)
    return response


class ServiceUnavailableMiddleware:
    """Turns an outage met during a request into a clear 503 instead of a 500."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DATABASE_ERRORS):
            logger.error("database unavailable during %s %s: %s", request.method, request.path, exception)
            return unavailable_response(request, "The database is unavailable; nothing was changed. Try again shortly.")
        if isinstance(exception, broker_errors()):
            logger.error("Redis unavailable during %s %s: %s", request.method, request.path, exception)
            return unavailable_response(
                request, "The task queue (Redis) is unavailable; nothing was changed. Try again shortly."
            )
        if isinstance(exception, OSError) and exception.errno in STORAGE_ERRNOS:
            reason = storage_error(exception)
            logger.error("storage unavailable during %s %s: %s", request.method, request.path, exception)
            return unavailable_response(request, f"{reason}; nothing was saved. Try again later.")
        return None
