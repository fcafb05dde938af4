"""ASGI entry point: HTTP to Django's own ASGI handler behind the request-body cap, WebSockets to
Channels consumers behind origin and authentication checks; anything else is refused."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "maskportal.settings.development")
# Django's ASGI handler runs each request's sync code in a thread of its own; those threads share
# PostgreSQL connections from psycopg's pool rather than each opening one (workers keep CONN_MAX_AGE).
os.environ.setdefault("DATABASE_POOL", "true")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from accounts.ws_auth import TokenAuthMiddleware, origin_checked  # noqa: E402
from maskportal.body_limit import BodySizeLimit  # noqa: E402
from maskportal.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": BodySizeLimit(django_asgi_app, max_bytes=settings.MAX_REQUEST_BYTES),
        "websocket": origin_checked(AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns)))),
    }
)


def _freeze_startup_objects() -> None:
    """Keep what lives as long as the process (modules, URL patterns, the engine's runtimes) out
    of the garbage collector's full passes: over ~160k such objects a pass held the GIL for
    60-150 ms, stalling every request in flight."""
    import gc

    from django.urls import get_resolver

    import detection.engine.onnx_runtime  # noqa: F401  the detectors' and SFace's runtimes, loaded on first use

    get_resolver().url_patterns  # noqa: B018  imports every view and what it imports
    gc.collect()
    gc.freeze()


_freeze_startup_objects()
