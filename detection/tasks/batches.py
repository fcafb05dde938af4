"""Batch tasks (queue `batch` via the "detection.tasks.run_batch*" route) and their upkeep."""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_ready

from detection.services import batches


@shared_task(name=batches.RUN_CHUNK_TASK, acks_late=True, reject_on_worker_lost=True)
def run_batch_chunk(batch_id: int, item_ids: list[int]) -> None:
    """Analyse one chunk of a batch; safe to run twice (done items are skipped)."""
    batches.run_chunk(batch_id, item_ids)


@shared_task(name=batches.RECOVER_TASK)
def recover_stalled_batches() -> int:
    return batches.recover_stalled_batches()


@worker_ready.connect
def _resume_after_restart(sender=None, **kwargs) -> None:
    """A worker that starts looks for batches a dead worker left behind."""
    recover_stalled_batches.delay()
