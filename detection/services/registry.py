"""Changes to the face registry: people, their samples, promotion of detected faces.

Every change ends with `registry_changed()` so every process reloads its gallery, and deleting
erases the stored photos, crops and embeddings (files on disk too) after the rows are gone.
Every change writes an audit event; a new person needs a lawful-basis declaration (see
services.consent) and erasing a person is services.subjects' work.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from PIL import Image

from accounts.audit import changes, record, snapshot
from accounts.models import AuditEvent
from detection.models import ConsentRecord, DetectedFace, FaceSample, Person
from detection.services import consent as consent_service
from detection.services.consent import ConsentError, Declaration
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


#: Fields of a person an Admin edits; their before/after goes into the audit trail.
EDITABLE_FIELDS = ("display_name", "employee_code", "notes")


def create_person(
    *,
    display_name: str,
    user=None,
    employee_code: str | None = None,
    notes: str = "",
    consent: Declaration | ConsentRecord | None = None,
    source: str = "form",
) -> Person:
    """Register a person with their lawful basis: a new declaration, or one shared with others
    (a bulk import's). Without one, refused while the platform requires it (ConsentError)."""
    if not isinstance(consent, ConsentRecord):
        consent_service.check_declared(consent)
    with transaction.atomic():
        record_row = consent_service.new_record(consent, user=user) if isinstance(consent, Declaration) else consent
        person = Person.objects.create(
            display_name=display_name.strip(),
            employee_code=(employee_code or "").strip() or None,
            notes=notes,
            consent=record_row,
        )
        record(
            AuditEvent.Kind.PERSON_CREATED,
            obj=person,
            actor=user,
            source=source,
            values=snapshot(person, EDITABLE_FIELDS),
        )
        if record_row is not None:
            consent_service.audit_consent(person, record_row)
    logger.info("person %s created by %s", person.pk, user)
    return person


def update_person(person: Person, *, user=None, **fields) -> Person:
    """Edit a person's name, employee code or notes; the audit keeps before and after."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"cannot edit {', '.join(sorted(unknown))}")
    before = snapshot(person, EDITABLE_FIELDS)
    if "employee_code" in fields:
        fields["employee_code"] = (fields["employee_code"] or "").strip() or None
    for name, value in fields.items():
        setattr(person, name, value)
    diff = changes(before, snapshot(person, EDITABLE_FIELDS))
    if diff:
        with transaction.atomic():
            person.save(update_fields=[*fields, "updated_at"])
            record(AuditEvent.Kind.PERSON_CHANGED, obj=person, actor=user, changes=diff)
    return person


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
    for r in results:
        if r.sample is not None:
            record(AuditEvent.Kind.PHOTO_ADDED, obj=person, actor=user, photo=r.sample.pk, source=r.sample.source)
    if any(r.accepted for r in results):
        registry_changed()
        logger.info("%d samples added to person %s by %s", sum(r.accepted for r in results), person.pk, user)
    return results


def erase_files(samples: Iterable[FaceSample]) -> None:
    """Remove the photos and crops of sample rows already deleted."""
    for sample in samples:
        delete_files(sample)


def delete_sample(sample: FaceSample, *, user=None) -> None:
    """Delete a sample with its synthetic-mask variants and their files."""
    rows = [sample, *sample.variants.all()]
    person = sample.person
    with transaction.atomic():
        sample.delete()  # variants cascade
        record(AuditEvent.Kind.PHOTO_REMOVED, obj=person, actor=user, photo=rows[0].pk, source=rows[0].source)
    erase_files(rows)
    registry_changed()
    logger.info("sample %s of person %s deleted by %s", rows[0].pk, person.pk, user)


def set_active(person: Person, active: bool, *, user=None) -> None:
    """An inactive person stays stored but is no longer recognised; a person who withdrew
    consent stays inactive until consent is recorded again."""
    if person.active == active:
        return
    if active and person.consent_withdrawn_at is not None:
        raise ConsentError(f"{person} withdrew consent: record consent again before activating them.")
    with transaction.atomic():
        person.active = active
        person.save(update_fields=["active", "updated_at"])
        kind = AuditEvent.Kind.PERSON_ACTIVATED if active else AuditEvent.Kind.PERSON_DEACTIVATED
        record(kind, obj=person, actor=user)
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


def promote_face(
    face: DetectedFace,
    *,
    person: Person | None = None,
    display_name: str = "",
    consent: Declaration | None = None,
    user=None,
) -> FaceSample:
    """Enrol a detected face as a sample of an existing person, or of a new one named `display_name`
    with the lawful basis `consent` declares.

    A new person is only created when the face passes the quality gate.
    """
    data, box = _face_source(face)
    with transaction.atomic():
        target = person or create_person(display_name=display_name, user=user, consent=consent, source="detection")
        sample = enrol(
            target, data, source=FaceSample.Source.SNAPSHOT, near_box=box, allow_largest=box is None, notify=False
        )
        record(
            AuditEvent.Kind.FACE_PROMOTED, obj=target, actor=user, detection=face.log_id, face=face.pk, photo=sample.pk
        )
    registry_changed()
    logger.info("detected face %s promoted to person %s by %s", face.pk, target.pk, user)
    return sample
