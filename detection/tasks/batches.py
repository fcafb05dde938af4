"""Batch tasks (queue `batch` via the "detection.tasks.run_batch*" route) and their upkeep."""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_ready
from django.db import close_old_connections

from detection.services import batches, registry_import
from maskportal.outages import DATABASE_ERRORS, send, transient_errors

#: A chunk of 16 images takes seconds; far less than the broker's visibility timeout.
CHUNK_TIME_LIMIT_S = 600


@shared_task(
    name=batches.RUN_CHUNK_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=CHUNK_TIME_LIMIT_S,
    # a database blip or Redis restarting: run the chunk again shortly (done items are skipped)
    autoretry_for=transient_errors(),
    retry_backoff=1,
    retry_backoff_max=8,
    retry_jitter=False,
    max_retries=6,
)
def run_batch_chunk(batch_id: int, item_ids: list[int]) -> None:
    """Analyse one chunk of a batch; safe to run twice (done items are skipped)."""
    try:
        batches.run_chunk(batch_id, item_ids)
    except DATABASE_ERRORS:
        close_old_connections()  # a broken connection is dropped: the retry opens a fresh one
        raise


@shared_task(name=batches.RECOVER_TASK)
def recover_stalled_batches() -> int:
    """The recovery sweep (beat, every few seconds): batches, then face imports."""
    return batches.recover_stalled_batches() + registry_import.recover_imports()


@worker_ready.connect
def _resume_after_restart(sender=None, **kwargs) -> None:
    """A worker that starts looks for work a dead worker left behind: now, and once more when the
    dead worker's heartbeats have expired."""
    send(recover_stalled_batches.delay, "the batch sweep")
    send(lambda: recover_stalled_batches.apply_async(countdown=batches.stall_seconds() + 1), "the batch sweep")
