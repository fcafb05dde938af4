"""ASGI entry point: HTTP to Django (its sync handler on a thread pool, see sync_http), WebSockets
to Channels consumers behind auth and origin checks."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "maskportal.settings.development")
# The web process's request threads (WEB_THREADS of them) share PostgreSQL connections from
# psycopg's pool rather than each keeping one (workers, one thread each, keep CONN_MAX_AGE).
os.environ.setdefault("DATABASE_POOL", "true")
django_wsgi_app = get_wsgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from accounts.ws_auth import TokenAuthMiddleware, origin_checked  # noqa: E402
from maskportal.routing import websocket_urlpatterns  # noqa: E402
from maskportal.sync_http import SyncDjangoHTTP  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": SyncDjangoHTTP(django_wsgi_app, threads=settings.WEB_THREADS),
        "websocket": origin_checked(
            AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)


def _freeze_startup_objects() -> None:
    """Keep what lives as long as the process (modules, URL patterns, the engine's runtimes) out
    of the garbage collector's full passes: over ~160k such objects a pass held the GIL for
    60-150 ms, stalling every request in flight (benchmarks/api_latency.py: p95 157-168 ms
    before, 135-150 after, in alternating rounds)."""
    import gc

    from django.urls import get_resolver

    import detection.engine.onnx_runtime  # noqa: F401  the detectors' and SFace's runtimes, loaded on first use

    get_resolver().url_patterns  # noqa: B018  imports every view and what it imports
    gc.collect()
    gc.freeze()


_freeze_startup_objects()
