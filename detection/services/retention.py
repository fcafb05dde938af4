"""Image retention: stored photos and face crops older than PlatformSettings.image_retention_days
are deleted by a scheduled task; the log rows and their figures stay."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from detection.models import DetectedFace, DetectionLog, PlatformSettings

logger = logging.getLogger(__name__)

CHUNK = 500


def purge_old_images(days: int | None = None, *, now=None) -> int:
    """Delete images of logs older than `days` (default: the platform setting; 0 keeps all).
    Returns how many logs lost their images."""
    days = PlatformSettings.current().image_retention_days if days is None else days
    if not days:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    old = DetectionLog.objects.filter(created_at__lt=cutoff)
    with_files = old.filter(~Q(image="") | Q(faces__crop__gt="")).distinct()
    purged = 0
    while ids := list(with_files.values_list("pk", flat=True)[:CHUNK]):
        purged += _purge(ids)
    if purged:
        logger.info("retention: removed the images of %s logs older than %s days", purged, days)
    return purged


def _purge(ids: list[int]) -> int:
    logs = list(DetectionLog.objects.filter(pk__in=ids).exclude(image="").only("pk", "image"))
    faces = list(DetectedFace.objects.filter(log_id__in=ids).exclude(crop="").only("pk", "crop"))
    with transaction.atomic():
        DetectionLog.objects.filter(pk__in=ids).update(image="")
        DetectedFace.objects.filter(log_id__in=ids).update(crop="")
    # rows first, files after: a crash in between leaves unreferenced files, never broken rows
    for log in logs:
        log.image.storage.delete(log.image.name)
    for face in faces:
        face.crop.storage.delete(face.crop.name)
    return len(ids)
