"""Celery task of the face registry: bulk import (the work is in services.registry_import)."""

from celery import shared_task

from detection.services import registry_import
from detection.services.registry_import import run_import


@shared_task(name=registry_import.IMPORT_TASK)
def import_faces(import_id: int) -> dict[str, int]:
    return run_import(import_id)
