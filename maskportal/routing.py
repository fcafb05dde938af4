"""WebSocket URL routes of every app, gathered for the ASGI router; any other path is refused
cleanly (close code 4404) rather than failing in the router."""

from django.urls import re_path

from accounts.consumers import UnknownPathConsumer
from accounts.routing import websocket_urlpatterns as accounts_routes
from detection.routing import websocket_urlpatterns as detection_routes

websocket_urlpatterns = [*accounts_routes, *detection_routes, re_path(r"", UnknownPathConsumer.as_asgi())]
