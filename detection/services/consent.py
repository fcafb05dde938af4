"""Lawful basis and consent: declared on every path into the registry, withdrawn, and enforced.

A person is recognised only with a lawful basis on record and no withdrawal (while the platform
setting `require_consent` is on, the default). Withdrawing consent deactivates the person at once
and schedules their erasure after `erasure_grace_days`; a periodic task erases them when due.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import PurePath

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.audit import record
from accounts.models import AuditEvent
from detection.models import ConsentRecord, FaceImport, LawfulBasis, Person, PlatformSettings
from detection.services.gallery import registry_changed

logger = logging.getLogger(__name__)

#: Scans of signed forms: what a consent document may be.
DOCUMENT_TYPES = {".pdf": b"%PDF", ".png": b"\x89PNG", ".jpg": b"\xff\xd8\xff", ".jpeg": b"\xff\xd8\xff"}
DOCUMENT_MAX_BYTES = 10 * 2**20


class ConsentError(ValueError):
    """A declaration or withdrawal that cannot be recorded; the message says why."""


@dataclass(frozen=True)
class Declaration:
    """What an Admin declares when registering people: the lawful basis, a note and the evidence."""

    lawful_basis: str
    note: str = ""
    document: UploadedFile | None = None

    def check(self) -> None:
        if self.lawful_basis not in LawfulBasis.values:
            raise ConsentError(f"Choose a lawful basis ({', '.join(LawfulBasis.values)}).")
        if self.lawful_basis == LawfulBasis.OTHER and not self.note.strip():
            raise ConsentError("Describe the lawful basis in the note when it is 'another basis'.")
        if self.document is not None:
            check_document(self.document)


def check_document(document: UploadedFile) -> None:
    suffix = PurePath(document.name or "").suffix.lower()
    if suffix not in DOCUMENT_TYPES:
        raise ConsentError("The consent document must be a PDF, PNG or JPEG file.")
    if (document.size or 0) > DOCUMENT_MAX_BYTES:
        raise ConsentError(f"The consent document is larger than {DOCUMENT_MAX_BYTES // 2**20} MB.")
    head = document.read(8)
    document.seek(0)
    if not head.startswith(DOCUMENT_TYPES[suffix]):
        raise ConsentError(f"The consent document is not a valid {suffix[1:].upper()} file.")


def consent_required() -> bool:
    return PlatformSettings.current().require_consent


def check_declared(declaration: Declaration | None) -> None:
    """Refuse a new registration without a declaration while the setting requires one."""
    if declaration is None:
        if consent_required():
            raise ConsentError("Record the lawful basis and consent: they are required to register a person.")
        return
    declaration.check()


def new_record(declaration: Declaration, *, user=None) -> ConsentRecord:
    """Store one declaration (the caller links people to it)."""
    declaration.check()
    row = ConsentRecord(
        lawful_basis=declaration.lawful_basis,
        note=declaration.note.strip(),
        recorded_by=user if getattr(user, "is_authenticated", False) else None,
    )
    if declaration.document is not None:
        suffix = PurePath(declaration.document.name or "").suffix.lower()
        row.document.save(f"consent{suffix}", declaration.document, save=False)
    try:
        row.save()
    except Exception:
        if row.document:
            row.document.delete(save=False)
        raise
    return row


def audit_consent(person: Person, consent: ConsentRecord, **detail) -> None:
    record(
        AuditEvent.Kind.CONSENT_RECORDED,
        obj=person,
        actor=consent.recorded_by,
        lawful_basis=consent.get_lawful_basis_display(),
        note=consent.note,
        document=bool(consent.document),
        **detail,
    )


def drop_if_unused(consent: ConsentRecord | None) -> str | None:
    """Delete a record no person or import refers to any more; returns its document's file name
    for the caller to delete once the transaction is over (the audit keeps what it declared)."""
    if consent is None or consent.people.exists() or FaceImport.objects.filter(consent=consent).exists():
        return None
    document = consent.document.name or None
    consent.delete()
    return document


def record_consent(person: Person, declaration: Declaration, *, user=None) -> ConsentRecord:
    """Record (or renew) a person's lawful basis and consent; a withdrawal on file is lifted and a
    superseded record of theirs alone is replaced."""
    previous = person.consent
    with transaction.atomic():
        consent = new_record(declaration, user=user)
        person.consent = consent
        person.consent_withdrawn_at = person.erasure_due_at = None
        person.save(update_fields=["consent", "consent_withdrawn_at", "erasure_due_at", "updated_at"])
        audit_consent(person, consent)
        stale = drop_if_unused(previous)
    if stale:
        default_storage.delete(stale)
    registry_changed()  # the person may now be recognised
    logger.info("consent of person %s recorded by %s", person.pk, user)
    return consent


def withdraw_consent(person: Person, *, user=None, note: str = "", now=None) -> Person:
    """The person withdrew consent: stop recognising them and schedule their erasure."""
    if person.consent_withdrawn_at is not None:
        raise ConsentError(f"{person} already withdrew consent; erasure is due {person.erasure_due_at:%Y-%m-%d}.")
    now = now or timezone.now()
    grace = PlatformSettings.current().erasure_grace_days
    with transaction.atomic():
        person.consent_withdrawn_at = now
        person.erasure_due_at = now + timedelta(days=grace)
        person.active = False
        person.save(update_fields=["consent_withdrawn_at", "erasure_due_at", "active", "updated_at"])
        record(
            AuditEvent.Kind.CONSENT_WITHDRAWN,
            obj=person,
            actor=user,
            note=note.strip(),
            grace_days=grace,
            erase_after=person.erasure_due_at,
        )
    registry_changed()
    logger.info("consent of person %s withdrawn; erasure due %s", person.pk, person.erasure_due_at)
    return person


def due_for_erasure(now=None) -> QuerySet:
    return Person.objects.filter(erasure_due_at__lte=now or timezone.now())
