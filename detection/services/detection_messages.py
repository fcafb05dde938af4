"""The `detection` realtime message: what the dashboard shows of each logged analysis as it lands."""

from __future__ import annotations

from typing import Any

from detection.models import DetectionLog
from maskportal import realtime


def detection_message(log: DetectionLog) -> dict[str, Any]:
    """The `detection` realtime message the dashboard shows as a live event."""
    faces = getattr(log, "detected_faces", None) or list(log.faces.all())
    return realtime.message(
        "detection",
        log_id=log.pk,
        source=log.source,
        camera=log.camera.name if log.camera else None,
        created_at=log.created_at.isoformat(),
        summary=log.summary,
        faces=[
            {
                "id": f.pk,
                "mask": f.mask_label,
                "mask_score": round(f.mask_probability, 4),
                "person": f.person.display_name if f.person_id else None,
                "crop": bool(f.crop),
                "fallback": f.engine_fallback,
            }
            for f in faces
        ],
        counts={
            "faces": log.face_count,
            "masked": log.masked_count,
            "unmasked": log.unmasked_count,
            "unknown": log.unknown_count,
        },
    )


def publish_detection(log: DetectionLog) -> None:
    """Tell every open dashboard about the log."""
    realtime.publish(realtime.DASHBOARD_GROUP, detection_message(log))
