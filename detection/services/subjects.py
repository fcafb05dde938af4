"""Subject access and erasure: everything held about one registered person, exported or erased.

The export is a ZIP: the profile, the consent record and its document, the enrolment photos and
crops, every detection that names the person with its images as stored, the audit events about
them, and a manifest listing each file with its SHA-256.

Erasure removes the person's row, photos, crops and embeddings (the gallery forgets them), the
consent document when no one else shares it, their name from the detection log (identity links,
live summaries, import reports), their face from stored detection images (blurred in the photo,
the face crop dropped) and training images cut from those detections; the audit events about them
are redacted and one event records the fact of the erasure, without the name.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import IO, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.audit import detail_lines, plain, record
from accounts.models import AuditEvent, AuditQuerySet
from detection.engine.imageio import ImageDecodeError, decode_image, encode_image
from detection.engine.redact import redact
from detection.models import DetectedFace, DetectionLog, FaceImport, Person
from detection.services.consent import drop_if_unused, due_for_erasure
from detection.services.gallery import registry_changed
from detection.services.registry import erase_files
from detection.signals import faces_erased

logger = logging.getLogger(__name__)

#: What erased names become in the log's texts.
ERASED_NAME = "An erased person"
PROFILE_FIELDS = (
    "id",
    "display_name",
    "employee_code",
    "notes",
    "active",
    "created_at",
    "updated_at",
    "consent_withdrawn_at",
    "erasure_due_at",
)


def naming(person: Person) -> QuerySet[DetectedFace]:
    """Detected faces the engine or a reviewer attributed to the person."""
    return DetectedFace.objects.filter(Q(person=person) | Q(corrected_person=person))


def audit_about(person: Person, face_ids: list[int] | None = None) -> AuditQuerySet:
    """Events about the person, and (for erasure) reviews of the faces that named them."""
    about = Q(object_type=Person._meta.model_name, object_id=str(person.pk))
    if face_ids:
        about |= Q(object_type=DetectedFace._meta.model_name, object_id__in=[str(pk) for pk in face_ids])
    return AuditEvent.objects.filter(about)


# --- subject access export --------------------------------------------------------------


@dataclass
class _Archive:
    zip: zipfile.ZipFile
    files: list[dict[str, Any]] = field(default_factory=list)

    def add(self, path: str, data: bytes, what: str) -> None:
        self.zip.writestr(path, data)
        self.files.append({"path": path, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), "what": what})

    def add_json(self, path: str, value: Any, what: str) -> None:
        self.add(path, json.dumps(plain(value), indent=2, ensure_ascii=False).encode(), what)

    def add_file(self, path_stem: str, field_file, what: str) -> str | None:
        """Copy a stored file as it is; returns its path in the archive (None when absent or unreadable)."""
        if not field_file or not field_file.name:
            return None
        try:
            with field_file.open("rb") as handle:
                data = handle.read()
        except OSError:
            logger.warning("subject export: %s is missing from storage", field_file.name)
            return None
        path = f"{path_stem}{PurePath(field_file.name).suffix.lower() or '.bin'}"
        self.add(path, data, what)
        return path


def _consent(person: Person) -> dict[str, Any] | None:
    consent = person.consent
    if consent is None:
        return None
    return {
        "lawful_basis": consent.lawful_basis,
        "lawful_basis_label": consent.get_lawful_basis_display(),
        "note": consent.note,
        "recorded_by": consent.recorded_by.username if consent.recorded_by else None,
        "recorded_at": consent.recorded_at,
        "shared_with_other_people": consent.people.exclude(pk=person.pk).exists(),
    }


def _detection(face: DetectedFace, person: Person) -> dict[str, Any]:
    log = face.log
    return {
        "detection": log.pk,
        "face": face.pk,
        "created_at": log.created_at,
        "source": log.get_source_display(),
        "camera": log.camera.name if log.camera else None,
        "place": log.camera.location if log.camera else None,
        "box": [round(v, 1) for v in face.box],
        "mask": face.get_mask_label_display(),
        "recognised_by_engine": face.person_id == person.pk,
        "named_by_reviewer": face.corrected_person_id == person.pk,
        "distance": face.distance,
        "review": face.get_review_state_display(),
        "fallback": face.get_fallback_display(),  # how the engine found the face ("Detected normally", …)
        "summary": log.summary,
    }


def _event(event: AuditEvent) -> dict[str, Any]:
    return {
        "when": event.created_at,
        "event": event.get_kind_display(),
        "by": event.actor.username if event.actor else None,
        "ip_address": event.ip_address,
        "details": detail_lines(event),
    }


def export_subject(person: Person, *, user=None) -> IO[bytes]:
    """Everything held about `person` as a ZIP in a temporary file (read it from the start)."""
    record(AuditEvent.Kind.SUBJECT_EXPORTED, obj=person, actor=user)
    out = tempfile.TemporaryFile()  # noqa: SIM115  (returned open: the response streams and closes it)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as handle:
        archive = _Archive(handle)
        profile = {name: getattr(person, name) for name in PROFILE_FIELDS}
        archive.add_json("profile.json", profile, "The person's registry entry")
        consent = _consent(person)
        if consent is not None and (record_on_file := person.consent) is not None:
            consent["document"] = archive.add_file("consent/document", record_on_file.document, "Consent document")
        archive.add_json("consent.json", consent, "The lawful basis and consent on record")
        photos = []
        for sample in person.samples.order_by("id"):
            kind = "synthetic masked variant" if sample.synthetic_mask else "enrolment photo"
            photos.append(
                {
                    "sample": sample.pk,
                    "kind": kind,
                    "source": sample.get_source_display(),
                    "created_at": sample.created_at,
                    "quality": sample.quality,
                    "photo": archive.add_file(f"photos/{sample.pk}-photo", sample.image, f"Photo ({kind})"),
                    "crop": archive.add_file(f"photos/{sample.pk}-crop", sample.crop, f"Face crop ({kind})"),
                }
            )
        archive.add_json("photos.json", photos, "Enrolment photos, crops and how they were taken")
        detections, images_done = [], set()
        for face in naming(person).select_related("log", "log__camera").order_by("log_id", "id"):
            entry = _detection(face, person)
            if face.log_id not in images_done:
                images_done.add(face.log_id)
                entry["image"] = archive.add_file(
                    f"detections/{face.log_id}-image", face.log.image, "Detection image as stored"
                )
            entry["crop"] = archive.add_file(f"detections/{face.log_id}-face{face.pk}", face.crop, "Face crop")
            detections.append(entry)
        archive.add_json("detections.json", detections, "Detections naming the person")
        archive.add_json(
            "audit.json", [_event(e) for e in audit_about(person).select_related("actor")], "Audit events about them"
        )
        manifest = {
            "person": person.pk,
            "exported_at": timezone.now(),
            "exported_by": getattr(user, "username", None),
            "counts": {"photos": len(photos), "detections": len(detections)},
            "files": archive.files,
        }
        handle.writestr("manifest.json", json.dumps(plain(manifest), indent=2, ensure_ascii=False))
    out.seek(0)
    return out


def export_filename(person: Person) -> str:
    return f"subject-{person.pk}-{timezone.now():%Y%m%d-%H%M}.zip"


# --- erasure ----------------------------------------------------------------------------


@dataclass
class ErasureReport:
    photos: int = 0
    detections: int = 0
    images_blurred: int = 0
    crops_dropped: int = 0
    derived_images: int = 0
    """Images other stores cut from the detections (the training pool's)."""


def _blur_in_stored_image(log: DetectionLog, faces: Iterable[DetectedFace]) -> bool:
    """Write the log's stored image again with the faces blurred; False when it cannot be read."""
    try:
        with log.image.open("rb") as handle:
            image = decode_image(handle.read(), max_pixels=settings.MAX_IMAGE_PIXELS)
    except (OSError, ImageDecodeError):
        logger.warning("erasure: stored image %s of log %s cannot be read; deleting it", log.image.name, log.pk)
        return False
    sx = image.shape[1] / log.image_width if log.image_width else 1.0
    sy = image.shape[0] / log.image_height if log.image_height else 1.0
    boxes = [(f.x1 * sx, f.y1 * sy, f.x2 * sx, f.y2 * sy) for f in faces]
    old = log.image.name
    log.image.save(PurePath(old).with_suffix(".jpg").name, ContentFile(encode_image(redact(image, boxes))), save=False)
    log.save(update_fields=["image"])
    log.image.storage.delete(old)
    return True


def _scrub_detections(person: Person, faces: list[DetectedFace], report: ErasureReport) -> list[str]:
    """Blur the person's face in stored images, drop their crops, remove their name; returns files to delete."""
    stale: list[str] = []
    report.detections = len(faces)
    by_log: dict[int, list[DetectedFace]] = {}
    for face in faces:
        by_log.setdefault(face.log_id, []).append(face)
        if face.crop:
            stale.append(face.crop.name)
            report.crops_dropped += 1
    for log_faces in by_log.values():
        log = log_faces[0].log
        if log.image:
            if _blur_in_stored_image(log, log_faces):
                report.images_blurred += 1
            else:
                stale.append(log.image.name)
                DetectionLog.objects.filter(pk=log.pk).update(image="")
    ids = [f.pk for f in faces]
    for _, files in faces_erased.send(sender=DetectedFace, face_ids=ids):
        names: list[str] = list(files or [])
        stale += names
        report.derived_images += len(names)
    DetectedFace.objects.filter(pk__in=ids, person=person).update(person=None, distance=None, crop="")
    DetectedFace.objects.filter(pk__in=ids, corrected_person=person).update(corrected_person=None, crop="")
    for log in DetectionLog.objects.filter(pk__in=by_log):
        log.unknown_count = log.faces.filter(person__isnull=True).count()
        if person.display_name:
            log.summary = log.summary.replace(person.display_name, ERASED_NAME)[:300]
        log.save(update_fields=["unknown_count", "summary"])
    return stale


def _scrub_import_reports(person: Person) -> None:
    """Import reports list each file under its person's folder name: blank the person's lines."""
    folder_names = {person.display_name, person.display_name.replace(" ", "_")}
    for job in FaceImport.objects.only("pk", "report").iterator():
        changed = False
        for line in job.report:
            if line.get("person") in folder_names or any(f"{n}/" in line.get("file", "") for n in folder_names):
                line.update(person=ERASED_NAME, file="(erased)")
                changed = True
        if changed:
            job.save(update_fields=["report"])


def erase_person(person: Person, *, user=None, reason: str = "") -> ErasureReport:
    """Erase everything held about `person` (see the module docstring); returns what was removed."""
    report = ErasureReport()
    pk = person.pk
    samples = list(person.samples.all())
    report.photos = sum(not s.synthetic_mask for s in samples)
    consent = person.consent
    with transaction.atomic():
        faces = list(naming(person).select_related("log"))
        stale = _scrub_detections(person, faces, report)
        _scrub_import_reports(person)
        audit_about(person, [f.pk for f in faces]).redact()
        person.delete()
        if document := drop_if_unused(consent):
            stale.append(document)
        record(
            AuditEvent.Kind.PERSON_ERASED,
            object_type=Person._meta.model_name or "person",
            object_id=pk,
            actor=user,
            reason=reason,
            photos=report.photos,
            detections=report.detections,
        )
    erase_files(samples)
    for name in stale:
        default_storage.delete(name)
    registry_changed()
    logger.info("person %s erased by %s: %s", pk, user, report)
    return report


def erase_due_people(now=None) -> int:
    """Erase the people whose consent was withdrawn and whose grace period is over (scheduled)."""
    erased = 0
    for person in due_for_erasure(now):
        erase_person(person, reason="Consent withdrawn; the grace period ended.")
        erased += 1
    return erased
