"""Cameras over the REST API: camera configuration is the Admin role's (model permissions on Camera).

A stream URL may hold credentials (`rtsp://user:pass@host/…`): the API accepts it but only ever
answers it with the credentials masked, so a read never discloses them.
"""

from __future__ import annotations

from rest_framework import viewsets

from detection.models import Camera
from detection.serializers import CameraSerializer


class CameraViewSet(viewsets.ModelViewSet):
    queryset = Camera.objects.all()
    serializer_class = CameraSerializer
