"""Scheduled data-protection work (beat: nightly, see migration 0005): erasure after a withdrawal
of consent, and the audit trail's own retention."""

from __future__ import annotations

from celery import shared_task

from accounts.audit import purge_old_events
from detection.models import PlatformSettings
from detection.services.subjects import erase_due_people


@shared_task(name="detection.tasks.erase_withdrawn_people")
def erase_withdrawn_people() -> int:
    return erase_due_people()


@shared_task(name="detection.tasks.purge_old_audit_events")
def purge_old_audit_events() -> int:
    return purge_old_events(PlatformSettings.current().audit_retention_days)
