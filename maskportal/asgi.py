"""ASGI entry point: HTTP to Django, WebSockets to Channels consumers behind auth and origin checks."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "maskportal.settings.development")
# Django serves every ASGI request from a thread of its own, so a persistent connection would
# belong to a thread that never comes back: the web process takes its PostgreSQL connections
# from a pool instead (workers, whose threads live on, keep CONN_MAX_AGE).
os.environ.setdefault("DATABASE_POOL", "true")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from accounts.ws_auth import TokenAuthMiddleware, origin_checked  # noqa: E402
from maskportal.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": origin_checked(
            AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)
