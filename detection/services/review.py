"""Staff review of a detected face: confirm the prediction or correct its mask label or identity.

The prediction is never overwritten; the reviewed values sit beside it (`corrected_*`), so the
audit trail keeps both and training can use corrected faces as new labelled data. Once reviewed,
`corrected_person` holds the reviewer's identity (None: unknown person).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from accounts.audit import record
from accounts.models import AuditEvent
from detection.models import DetectedFace, MaskLabel, Person
from detection.signals import face_reviewed

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
    identity = face.person if person is UNCHANGED else person
    with transaction.atomic():
        face.corrected_mask_label = "" if label == face.mask_label else label
        face.corrected_person = identity
        corrected = bool(face.corrected_mask_label) or identity != face.person
        face.review_state = DetectedFace.Review.CORRECTED if corrected else DetectedFace.Review.CONFIRMED
        face.reviewed_by = user
        face.reviewed_at = timezone.now()
        face.save(update_fields=["corrected_mask_label", "corrected_person", "review_state", "reviewed_by",
                                 "reviewed_at"])  # fmt: skip
        record(
            AuditEvent.Kind.DETECTION_CORRECTED, obj=face, object_repr=f"Face {face.pk} of detection {face.log_id}",
            actor=user, review=face.get_review_state_display(),
            changes={
                "Mask": [MaskLabel(previous_label).label, MaskLabel(face.effective_mask_label).label],
                "Person": [str(previous_person or "unknown"), str(identity or "unknown")],
            },
        )  # fmt: skip
        if face.corrected_mask_label or previous_label != face.effective_mask_label:
            face_reviewed.send(sender=DetectedFace, face=face)
    logger.info("face %s reviewed by %s: %s", face.pk, user, face.review_state)
    return face
