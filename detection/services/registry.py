"""Changes to the face registry: people, their samples, promotion of detected faces.

Every change ends with `registry_changed()` so every process reloads its gallery, and deleting
erases the stored photos, crops and embeddings (files on disk too) after the rows are gone.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from PIL import Image

from detection.models import DetectedFace, FaceSample, Person
from detection.services.enrolment import EnrolmentRejected, delete_files, enrol
from detection.services.gallery import registry_changed

logger = logging.getLogger(__name__)


@dataclass
class PhotoResult:
    """What happened to one submitted photo."""

    name: str
    sample: FaceSample | None = None
    code: str = ""
    reason: str = ""

    @property
    def accepted(self) -> bool:
        return self.sample is not None


def create_person(
    *, display_name: str, user=None, employee_code: str | None = None, notes: str = "", consent: bool = False
) -> Person:
    person = Person.objects.create(
        display_name=display_name.strip(),
        employee_code=(employee_code or "").strip() or None,
        notes=notes,
        consent_at=timezone.now() if consent else None,
        consent_by=user if consent else None,
    )
    logger.info("person %s created by %s", person.pk, user)
    return person


def record_consent(person: Person, *, user=None) -> None:
    person.consent_at, person.consent_by = timezone.now(), user
    person.save(update_fields=["consent_at", "consent_by", "updated_at"])


def add_photos(
    person: Person, photos: Iterable[tuple[str, bytes, str]], *, allow_largest: bool = False, user=None
) -> list[PhotoResult]:
    """Enrol (name, bytes, source) photos one by one; each rejection keeps its reason."""
    results = []
    for name, data, source in photos:
        try:
            sample = enrol(person, data, source=source, allow_largest=allow_largest, notify=False)
        except EnrolmentRejected as exc:
            logger.info("photo %s for person %s rejected: %s", name, person.pk, exc.message)
            results.append(PhotoResult(name, code=exc.code, reason=exc.message))
        else:
            results.append(PhotoResult(name, sample=sample))
    if any(r.accepted for r in results):
        registry_changed()
        logger.info("%d samples added to person %s by %s", sum(r.accepted for r in results), person.pk, user)
    return results


def _erase(samples: Iterable[FaceSample]) -> None:
    for sample in samples:
        delete_files(sample)


def delete_sample(sample: FaceSample, *, user=None) -> None:
    """Delete a sample with its synthetic-mask variants and their files."""
    rows = [sample, *sample.variants.all()]
    person_id = sample.person_id
    with transaction.atomic():
        sample.delete()  # variants cascade
    _erase(rows)
    registry_changed()
    logger.info("sample %s of person %s deleted by %s", rows[0].pk, person_id, user)


def delete_person(person: Person, *, user=None) -> None:
    """Erase a person: every sample row, embedding, photo and crop (detections keep no link)."""
    rows = list(person.samples.all())
    pk, name = person.pk, person.display_name
    with transaction.atomic():
        person.delete()
    _erase(rows)
    registry_changed()
    logger.info("person %s (%s) and %d samples erased by %s", pk, name, len(rows), user)


def set_active(person: Person, active: bool, *, user=None) -> None:
    """An inactive person stays stored but is no longer recognised."""
    if person.active != active:
        person.active = active
        person.save(update_fields=["active", "updated_at"])
        registry_changed()
        logger.info("person %s %s by %s", person.pk, "activated" if active else "deactivated", user)


def _face_source(face: DetectedFace) -> tuple[bytes, tuple[float, float, float, float] | None]:
    """The stored photo of a detection with the face's box, or else the stored face crop."""
    if face.log.image:
        with face.log.image.open("rb") as f:
            data = f.read()
        try:
            with Image.open(io.BytesIO(data)) as img:
                width = img.width
        except OSError as exc:
            raise EnrolmentRejected("not_an_image", "The stored detection image cannot be read.") from exc
        scale = width / face.log.image_width if face.log.image_width else 1.0  # stored copies may be downscaled
        return data, (face.x1 * scale, face.y1 * scale, face.x2 * scale, face.y2 * scale)
    if face.crop:
        with face.crop.open("rb") as f:
            return f.read(), None
    raise EnrolmentRejected("no_image", "This detection has no stored image to enrol from.")


def promote_face(face: DetectedFace, *, person: Person | None = None, display_name: str = "", user=None) -> FaceSample:
    """Enrol a detected face as a sample of an existing person, or of a new one named `display_name`.

    A new person is only created when the face passes the quality gate.
    """
    data, box = _face_source(face)
    with transaction.atomic():
        target = person or create_person(display_name=display_name, user=user)
        sample = enrol(
            target, data, source=FaceSample.Source.SNAPSHOT, near_box=box, allow_largest=box is None, notify=False
        )
    registry_changed()
    logger.info("detected face %s promoted to person %s by %s", face.pk, target.pk, user)
    return sample
