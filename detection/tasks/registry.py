"""Celery task of the face registry: bulk import (the work is in services.registry_import)."""

from celery import shared_task

from detection.services import registry_import
from detection.services.registry_import import run_import
from maskportal.outages import transient_errors


@shared_task(
    name=registry_import.IMPORT_TASK, acks_late=True, autoretry_for=transient_errors(), retry_backoff=2, max_retries=5
)
def import_faces(import_id: int) -> dict[str, int]:
    """Safe to deliver twice: a second run skips an import that is running or done, and resumes one
    whose worker died without enrolling any file twice."""
    return run_import(import_id)
