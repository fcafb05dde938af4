"""WebSocket URL routes of every app, gathered for the ASGI router."""

from accounts.routing import websocket_urlpatterns as accounts_routes
from detection.routing import websocket_urlpatterns as detection_routes

websocket_urlpatterns = [*accounts_routes, *detection_routes]
