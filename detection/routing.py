from django.urls import path

from .consumers import CameraViewerConsumer, LiveFrameConsumer

websocket_urlpatterns = [
    path("ws/live/", LiveFrameConsumer.as_asgi()),
    path("ws/cameras/<int:camera_id>/", CameraViewerConsumer.as_asgi()),
]
