"""The scheduled image clean-up (beat: daily, see migration 0002)."""

from __future__ import annotations

from celery import shared_task

from detection.services.retention import purge_old_images


@shared_task(name="detection.tasks.purge_old_images")
def purge_old_images_task() -> dict[str, int]:
    """Returns the run's counts (deleted per kind, failed deletes retried next run)."""
    return purge_old_images().as_dict()
