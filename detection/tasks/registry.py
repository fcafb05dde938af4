"""Celery task of the face registry: bulk import (the work is in services.registry_import)."""

from celery import shared_task

from detection.services.registry_import import run_import


@shared_task(name="detection.tasks.import_faces")
def import_faces(import_id: int) -> dict[str, int]:
    return run_import(import_id)
