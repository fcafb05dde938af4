"""Staff review of detected faces: confirm the prediction or correct its mask label or identity.

The prediction is never overwritten; the reviewed values sit beside it (`corrected_*`), so the
audit trail keeps both and training can use corrected faces as new labelled data. Once reviewed,
`corrected_person` holds the reviewer's identity (None: unknown person).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, cast

from django.db import transaction
from django.utils import timezone

from accounts.audit import record
from accounts.models import AuditEvent
from detection.engine.annotate import UNSURE_BAND
from detection.models import DetectedFace, DetectionLog, MaskLabel, Person
from detection.services.analysis import summarise
from detection.signals import face_reviewed
from maskportal import realtime

logger = logging.getLogger(__name__)

UNCHANGED = object()


def review_face(
    face: DetectedFace,
    *,
    user,
    mask_label: str | None = None,
    person: Person | None | object = UNCHANGED,
) -> DetectedFace:
    """Record a review. `mask_label` None keeps the predicted label; `person` UNCHANGED keeps the
    predicted identity, None marks the face as an unknown person."""
    if mask_label is not None and mask_label not in MaskLabel.values:
        raise ValueError(f"unknown mask label {mask_label!r}")
    previous_label = face.effective_mask_label
    previous_person = face.effective_person
    label = mask_label or face.mask_label
    identity = face.person if person is UNCHANGED else cast(Person | None, person)
    with transaction.atomic():
        face.corrected_mask_label = "" if label == face.mask_label else label
        face.corrected_person = identity
        corrected = bool(face.corrected_mask_label) or identity != face.person
        face.review_state = DetectedFace.Review.CORRECTED if corrected else DetectedFace.Review.CONFIRMED
        face.reviewed_by = user
        face.reviewed_at = timezone.now()
        face.save(
            update_fields=["corrected_mask_label", "corrected_person", "review_state", "reviewed_by", "reviewed_at"]
        )
        record(
            AuditEvent.Kind.DETECTION_CORRECTED,
            obj=face,
            object_repr=f"Face {face.pk} of detection {face.log_id}",
            actor=user,
            review=face.get_review_state_display(),
            changes={
                "Mask": [MaskLabel(previous_label).label, MaskLabel(face.effective_mask_label).label],
                "Person": [str(previous_person or "unknown"), str(identity or "unknown")],
            },
        )
        if face.corrected_mask_label or previous_label != face.effective_mask_label:
            face_reviewed.send(sender=DetectedFace, face=face)
    logger.info("face %s reviewed by %s: %s", face.pk, user, face.review_state)
    return face


#: One face's review: (mask label or None to keep the prediction, Person / None for unknown / UNCHANGED).
Decision = tuple[str | None, "Person | None | object"]


def review_faces(log: DetectionLog, decisions: Mapping[int, Decision], *, user) -> list[DetectedFace]:
    """Review any number of the faces of one photo at once: all saved or none. Then the photo's
    counts and summary follow the reviewed values, and open dashboards refresh their figures.

    Raises ValueError for a face id that is not in this photo.
    """
    faces = list(log.faces.select_related("person", "corrected_person"))
    by_id = {face.pk: face for face in faces}
    strangers = set(decisions) - set(by_id)
    if strangers:
        raise ValueError(f"faces {sorted(strangers)} are not in detection {log.pk}")
    with transaction.atomic():
        for face_id, (mask_label, person) in decisions.items():
            review_face(by_id[face_id], user=user, mask_label=mask_label, person=person)
        recount(log, faces)
    transaction.on_commit(
        lambda: realtime.publish(
            realtime.DASHBOARD_GROUP,
            realtime.message(
                "review",
                log_id=log.pk,
                summary=log.summary,
                counts=counts(log),
            ),
        )
    )
    return faces


def recount(log: DetectionLog, faces: Iterable[DetectedFace]) -> None:
    """Counts of the photo by the reviewed values. The summary follows when it was the counts'
    own sentence (a camera event's sentence, e.g. "Unknown person at Entrance A", stays)."""
    faces = list(faces)
    generated = log.summary == summarise(log.face_count, log.masked_count, log.unmasked_count, log.unknown_count)
    log.face_count = len(faces)
    log.masked_count = sum(f.effective_mask_label == MaskLabel.WITH_MASK for f in faces)
    log.unmasked_count = log.face_count - log.masked_count
    log.unknown_count = sum(f.effective_person is None for f in faces)
    if generated:
        log.summary = summarise(log.face_count, log.masked_count, log.unmasked_count, log.unknown_count)
    log.save(update_fields=["face_count", "masked_count", "unmasked_count", "unknown_count", "summary"])


def counts(log: DetectionLog) -> dict[str, int]:
    return {
        "faces": log.face_count,
        "masked": log.masked_count,
        "unmasked": log.unmasked_count,
        "unknown": log.unknown_count,
    }


def reading_order(faces: Iterable[DetectedFace]) -> list[DetectedFace]:
    """Faces in rows from the top, left to right in a row (a row is a typical face's height), so
    the numbers on a crowd photo can be followed like text."""
    faces = list(faces)
    if not faces:
        return faces
    heights = sorted(f.y2 - f.y1 for f in faces)
    row = max(heights[len(heights) // 2], 1.0)
    return sorted(faces, key=lambda f: (int(((f.y1 + f.y2) / 2) // row), f.x1, f.pk))


def overlay(log: DetectionLog, faces: Iterable[DetectedFace]) -> dict[str, Any]:
    """What the result page draws over the photo and lists in its table, numbered in `reading_order`
    (rendered with the page, and answered by each saved review)."""
    faces = reading_order(faces)
    return {
        "log_id": log.pk,
        "width": log.image_width,
        "height": log.image_height,
        "summary": log.summary,
        "counts": counts(log),
        "faces": [
            {
                "id": face.pk,
                "n": number,
                "box": [round(v, 1) for v in face.box],
                "mask": face.effective_mask_label,
                "mask_label": MaskLabel(face.effective_mask_label).label,
                # an unreviewed prediction close to 50/50 is drawn as "unsure"
                "unsure": face.review_state == DetectedFace.Review.PENDING
                and abs(face.mask_probability - 0.5) < UNSURE_BAND,
                "person": face.effective_person.display_name if face.effective_person else None,
                "person_id": face.effective_person.pk if face.effective_person else None,
                "review": face.review_state,
                "review_label": face.get_review_state_display(),
                # how the engine found the face in a close-up (null: detected normally); a
                # whole_image face's box is the whole photo, drawn dashed by result.js
                "fallback": face.engine_fallback,
                "fallback_label": face.get_fallback_display() if face.engine_fallback else None,
            }
            for number, face in enumerate(faces, start=1)
        ],
    }
