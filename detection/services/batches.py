"""Batch jobs: many images analysed by Celery workers (queue `batch`) in chunks.

The per-item state in the database is the truth, so work is safe to repeat: a chunk that is
delivered twice (a worker killed mid-batch, then a redelivery or a recovery) skips the items that
are already done, and an item is claimed under a row lock so two workers never log it twice.

Queueing happens after the batch is committed and never undoes it: when the broker is
unreachable the batch is accepted all the same, its items stay unqueued (`queued_at` empty), and
the recovery sweep queues them once the broker answers. Each item also records when a chunk
started on it; `recover_stalled_batches` (beat, every few seconds; a worker's start; after a
chunk that ends with items still pending) queues again:
- items never queued (the broker was down);
- items whose chunk started but whose batch shows no heartbeat for BATCH_STALL_SECONDS (the
  worker died): a running chunk beats from a side thread every second;
- items queued but not started whose message is no longer in the queue (e.g. Redis restarted
  empty). Items whose message still waits behind other batches are not stalled and are left alone.
Transient errors (a database blip, Redis restarting) are retried by the task with backoff.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from detection.engine.imageio import ImageDecodeError
from detection.engine.pipeline import Analysis
from detection.filters import effective_mask, effective_person
from detection.models import BatchItem, BatchJob, DetectedFace, DetectionLog, MaskLabel
from detection.services.analysis import log_recorded, prepare_log, write_logs
from detection.services.engine_threads import analyse
from detection.services.stored_images import files_rolled_back, save_file
from detection.services.uploads import UploadItem
from maskportal import realtime
from maskportal.enqueue import enqueue as enqueue_task
from maskportal.outages import DATABASE_ERRORS, broker_errors, queue_length, send, storage_error

logger = logging.getLogger(__name__)

RUN_CHUNK_TASK = "detection.tasks.run_batch_chunk"
RECOVER_TASK = "detection.tasks.recover_stalled_batches"
CHUNK_SIZE = 16
#: Items analysed before their outcomes are written together (see `run_chunk`).
SAVE_EVERY = 8
#: Seconds between two progress messages of one chunk (the last one is always sent).
PROGRESS_INTERVAL_S = 0.5
HEARTBEAT_KEY = "maskportal:batch-heartbeat:{}"
#: Seconds between two heartbeats of a running chunk (from a side thread, whatever an image costs).
HEARTBEAT_INTERVAL_S = 1.0
QUEUE = "batch"
ACTIVE = (BatchJob.Status.QUEUED, BatchJob.Status.RUNNING)


def stall_seconds() -> int:
    return int(getattr(settings, "BATCH_STALL_SECONDS", 5))


def heartbeat(batch_id: int) -> None:
    """Say a chunk of the batch is alive; a lost beat (cache down) only ages the heartbeat."""
    try:
        cache.set(HEARTBEAT_KEY.format(batch_id), time.time(), timeout=max(stall_seconds(), 1))
    except broker_errors() as exc:
        logger.warning("batch %s: heartbeat not written (%s)", batch_id, exc)


def has_heartbeat(batch_id: int) -> bool | None:
    """Whether a chunk of the batch beat recently; None when the cache cannot say."""
    try:
        return cache.get(HEARTBEAT_KEY.format(batch_id)) is not None
    except broker_errors():
        return None


@contextmanager
def beating(batch_id: int) -> Iterator[None]:
    """Keep the batch's heartbeat fresh while the block runs (one slow image does not look dead)."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_INTERVAL_S):
            heartbeat(batch_id)

    heartbeat(batch_id)
    thread = threading.Thread(target=beat, name=f"batch-{batch_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=HEARTBEAT_INTERVAL_S * 2)


def create_batch(user, items: Iterable[UploadItem], *, mode: str | None = None, recognize: bool = True) -> BatchJob:
    """Store every acceptable upload first (one transaction), then queue the work.

    Refused items are recorded as failed with their reason and no file, so the page lists them.
    """
    with files_rolled_back(), transaction.atomic():
        batch = BatchJob.objects.create(owner=user, mode=mode or settings.ENGINE_UPLOAD_MODE, recognize=recognize)
        total = failed = 0
        for item in items:
            row = BatchItem(batch=batch, name=item.name[:500])
            if item.data is not None and item.ok:
                save_file(row.upload, "item", item.data)
            else:
                row.status, row.error = BatchItem.Status.FAILED, item.error
                failed += 1
            row.save()
            total += 1
        batch.total, batch.failed = total, failed
        if total == failed:
            batch.status, batch.finished_at = BatchJob.Status.FAILED, timezone.now()
            batch.error = "no file could be analysed" if total else "no files were uploaded"
        batch.save()
        if batch.status == BatchJob.Status.QUEUED:
            transaction.on_commit(lambda: enqueue(batch), robust=True)  # never undoes the committed batch
    logger.info("batch %s created by %s: %s items, %s refused", batch.pk, user, total, failed)
    return batch


def enqueue(batch: BatchJob, item_ids: list[int] | None = None) -> int:
    """Queue the pending items (or `item_ids`) in chunks; returns the number of chunks sent.

    Each chunk's items are marked queued before it is sent; when the broker is unreachable the
    unsent items are marked unqueued again and left to the recovery sweep (nothing is raised).
    """
    if item_ids is None:
        item_ids = list(batch.items.filter(status=BatchItem.Status.PENDING).values_list("pk", flat=True))
    chunks = [item_ids[i : i + CHUNK_SIZE] for i in range(0, len(item_ids), CHUNK_SIZE)]
    for sent, chunk in enumerate(chunks):
        BatchItem.objects.filter(pk__in=chunk).update(queued_at=timezone.now(), started_at=None)
        if not send(partial(enqueue_task, RUN_CHUNK_TASK, batch.pk, chunk), f"batch {batch.pk}"):
            BatchItem.objects.filter(pk__in=[pk for rest in chunks[sent:] for pk in rest]).update(queued_at=None)
            return sent
    return len(chunks)


def run_chunk(batch_id: int, item_ids: list[int]) -> None:
    """Analyse the still-pending items of a chunk; stops early when the batch is cancelled
    (checked before every item, so no item starts after a cancel; outcomes not yet written when
    the cancel came are dropped and their items stay pending, so the counts stop where Cancel
    left them and a retry runs them).

    Outcomes are written SAVE_EVERY items at a time, in one transaction: a crash loses at most
    that much analysis (the items stay pending and run again), and each item costs a few
    statements instead of a transaction of its own.
    """
    batch = BatchJob.objects.select_related("owner").filter(pk=batch_id).first()
    if batch is None or batch.status not in ACTIVE:
        return
    if BatchJob.objects.filter(pk=batch_id, status=BatchJob.Status.QUEUED).update(
        status=BatchJob.Status.RUNNING, started_at=timezone.now()
    ):
        batch.status = BatchJob.Status.RUNNING
    pending = BatchItem.objects.filter(pk__in=item_ids, batch=batch, status=BatchItem.Status.PENDING)
    pending.update(started_at=timezone.now())
    with beating(batch_id):
        _run_items(batch, item_ids, pending.in_bulk())
    if not finish_if_complete(batch_id) and not cancel_requested(batch_id):
        # other chunks still have work: if one of them died, a check after the stall time resumes it
        send(lambda: enqueue_task(RECOVER_TASK, countdown=stall_seconds() + 1), "the batch sweep")
    publish_progress(batch_id)


def _run_items(batch: BatchJob, item_ids: list[int], pending: dict[int, BatchItem]) -> None:
    batch_id = batch.pk
    outcomes: list[Outcome] = []
    last_report = time.monotonic()
    for item_id in item_ids:
        if item_id not in pending:
            continue
        if cancel_requested(batch_id):
            break
        outcomes.append(analyse_item(batch, pending[item_id]))
        report = time.monotonic() - last_report >= PROGRESS_INTERVAL_S
        if len(outcomes) >= SAVE_EVERY or report:
            save_outcomes(batch, outcomes)
            outcomes = []
        if report:
            last_report = time.monotonic()
            publish_progress(batch_id)
    save_outcomes(batch, outcomes)


def cancel_requested(batch_id: int) -> bool:
    return BatchJob.objects.filter(pk=batch_id, cancel_requested=True).exists()


@dataclass
class Outcome:
    """An analysed item not yet written: its result, or why it failed."""

    item: BatchItem
    result: tuple[np.ndarray, bytes | None, Analysis] | None
    error: str


def analyse_item(batch: BatchJob, item: BatchItem) -> Outcome:
    try:
        with item.upload.open("rb") as handle:
            data = handle.read()
        return Outcome(item, analyse(data, mode=batch.mode, recognize=batch.recognize), "")
    except (ImageDecodeError, OSError, ValueError) as exc:
        logger.info("batch %s item %s (%s) failed: %s", batch.pk, item.pk, item.name, exc)
        return Outcome(item, None, str(exc) or exc.__class__.__name__)


def save_outcomes(batch: BatchJob, outcomes: list[Outcome]) -> None:
    """Write the logs, item states and batch counts of `outcomes` in one transaction.

    The items' rows are locked first, so a second delivery of the same chunk waits, then finds
    them done and skips them (on SQLite every transaction takes the write lock at once). When the
    group fails (a bug, a full disk), each item is tried alone so one cannot sink the others. A
    lost database is not the items' fault: the error propagates and the task retries the chunk.
    """
    if not outcomes:
        return
    try:
        _save(batch, outcomes)
    except DATABASE_ERRORS:
        raise
    except Exception as exc:
        if len(outcomes) > 1:
            for outcome in outcomes:
                save_outcomes(batch, [outcome])
            return
        logger.exception("batch %s item %s failed", batch.pk, outcomes[0].item.pk)
        reason = str(storage_error(exc)) if isinstance(exc, OSError) else f"internal error: {exc.__class__.__name__}"
        _save(batch, [Outcome(outcomes[0].item, None, reason)])


def _delete_files(names: list[str]) -> None:
    """Remove uploads whose outcome is committed (called after the commit)."""
    for name in names:
        default_storage.delete(name)


def _save(batch: BatchJob, outcomes: list[Outcome]) -> None:
    with files_rolled_back(), transaction.atomic():
        ids = [outcome.item.pk for outcome in outcomes]
        pending = BatchItem.objects.select_for_update().filter(pk__in=ids, status=BatchItem.Status.PENDING)
        attempts = dict(pending.values_list("pk", "attempts"))
        # The batch row stays locked until the commit (items first, as a retry locks them): a cancel
        # either came first, and these outcomes are dropped, or waits for them, so the counts it
        # reports are final.
        running = BatchJob.objects.select_for_update().filter(pk=batch.pk, cancel_requested=False)
        if not running.values_list("pk", flat=True):
            return
        rows, logs, uploads = [], [], []  # fresh rows: the outcomes stay as they were if this rolls back
        for outcome in outcomes:
            item = outcome.item
            if item.pk not in attempts:
                continue
            row = BatchItem(pk=item.pk, attempts=attempts[item.pk] + 1, upload=item.upload.name)
            rows.append(row)
            if outcome.result is None:
                row.status, row.error = BatchItem.Status.FAILED, outcome.error
                continue
            image, original, analysis = outcome.result
            row.log = prepare_log(
                image,
                original,
                analysis,
                user=batch.owner,
                source=DetectionLog.Source.BATCH,
                batch=batch,
                original_name=item.name,
                mode=batch.mode,
            )
            logs.append(row.log)
            uploads.append(item.upload.name)
            row.status, row.upload = BatchItem.Status.DONE, ""
        if not rows:
            return
        write_logs(logs)
        BatchItem.objects.bulk_update(rows, ["status", "error", "log", "upload", "attempts"])
        failed = len(rows) - len(logs)
        BatchJob.objects.filter(pk=batch.pk).update(done=F("done") + len(logs), failed=F("failed") + failed)
        transaction.on_commit(partial(_delete_files, uploads))
    for log in logs:
        log_recorded(log)


def finish_if_complete(batch_id: int) -> bool:
    """Close the batch when no item is pending (once, whichever chunk gets here first); returns
    whether nothing is pending. A batch with some failed items ends "finished with failures"."""
    if BatchItem.objects.filter(batch_id=batch_id, status=BatchItem.Status.PENDING).exists():
        return False
    batch = BatchJob.objects.get(pk=batch_id)
    if batch.failed and not batch.done:
        status, error = BatchJob.Status.FAILED, "no file could be analysed"
    elif batch.failed:
        status, error = BatchJob.Status.PARTIAL, f"{batch.failed} of {batch.total} files could not be analysed"
    else:
        status, error = BatchJob.Status.SUCCEEDED, ""
    finished = {"status": status, "error": error, "finished_at": timezone.now()}
    BatchJob.objects.filter(pk=batch_id, status__in=ACTIVE).update(**finished)
    return True


def publish_progress(batch_id: int) -> None:
    """To the owner (progress bar) and the dashboard (which refreshes its figures; batch items
    send no per-image `detection` events)."""
    batch = BatchJob.objects.filter(pk=batch_id).first()
    if batch is not None:
        msg = progress_for(batch)
        realtime.publish(realtime.user_group(batch.owner_id), msg)
        realtime.publish(realtime.DASHBOARD_GROUP, msg)


def progress_for(batch: BatchJob) -> dict:
    return realtime.progress_message(
        job=batch.pk, kind="batch", done=batch.done, total=batch.total, failed=batch.failed, status=batch.status
    )


def summary(batch: BatchJob) -> dict[str, int | float | None]:
    """The batch's faces at a glance, by their reviewed labels: faces, with/without mask,
    compliance (with mask / all faces), unknown faces and the number of people recognised."""
    faces = DetectedFace.objects.filter(log__batch=batch)
    counts = faces.aggregate(
        faces=Count("pk"),
        masked=Count("pk", filter=effective_mask(MaskLabel.WITH_MASK)),
        unknown=Count("pk", filter=effective_person(None)),
    )
    named = faces.exclude(effective_person(None)).only("review_state", "person", "corrected_person")
    recognised = {face.effective_person_id for face in named}
    counts["unmasked"] = counts["faces"] - counts["masked"]
    counts["compliance"] = round(counts["masked"] / counts["faces"], 4) if counts["faces"] else None
    counts["people"] = len(recognised)
    return counts


def cancel_batch(batch: BatchJob) -> bool:
    """Stop a queued or running batch: chunks stop before their next item; pending items stay
    pending (retry runs them). Returns False when the batch had already ended."""
    changed = BatchJob.objects.filter(pk=batch.pk, status__in=ACTIVE).update(
        status=BatchJob.Status.CANCELLED, cancel_requested=True, finished_at=timezone.now()
    )
    batch.refresh_from_db()
    if changed:
        logger.info("batch %s cancelled", batch.pk)
        publish_progress(batch.pk)
    return bool(changed)


def retryable_items(batch: BatchJob):
    """Failed items whose upload is kept (refused uploads have none) and, after a cancel, pending ones."""
    return batch.items.exclude(upload="").filter(Q(status=BatchItem.Status.FAILED) | Q(status=BatchItem.Status.PENDING))


def retry_batch(batch: BatchJob, item_ids: list[int] | None = None) -> int:
    """Run failed (or, after a cancel, unprocessed) items again; returns how many were queued."""
    if batch.status in ACTIVE:
        return 0
    with transaction.atomic():
        items = retryable_items(batch)
        if item_ids is not None:
            items = items.filter(pk__in=item_ids)
        ids = list(items.values_list("pk", flat=True))
        if not ids:
            return 0
        BatchItem.objects.filter(pk__in=ids).update(status=BatchItem.Status.PENDING, error="", queued_at=None)
        counts = batch.items.aggregate(
            done=Count("pk", filter=Q(status=BatchItem.Status.DONE)),
            failed=Count("pk", filter=Q(status=BatchItem.Status.FAILED)),
        )
        BatchJob.objects.filter(pk=batch.pk).update(
            status=BatchJob.Status.QUEUED, cancel_requested=False, error="", finished_at=None, **counts
        )
        transaction.on_commit(lambda: enqueue(batch, ids), robust=True)
    batch.refresh_from_db()
    logger.info("batch %s: %s items queued again", batch.pk, len(ids))
    return len(ids)


def recover_stalled_batches() -> int:
    """Queue again what no worker will run (see the module docstring). Safe to run any time:
    items already done are skipped, items waiting in the queue are left alone. Returns the
    number of batches resumed."""
    resumed = 0
    grace = timezone.now() - timedelta(seconds=stall_seconds())
    waiting_in_queue: int | None = -1  # asked of the broker once, when first needed
    for batch in BatchJob.objects.filter(status__in=ACTIVE, cancel_requested=False):
        pending = batch.items.filter(status=BatchItem.Status.PENDING)
        if not pending.exists():
            finish_if_complete(batch.pk)
            continue
        lost = pending.filter(queued_at__isnull=True, batch__created_at__lt=grace)
        alive = has_heartbeat(batch.pk)
        if alive is False:
            lost = lost | pending.filter(started_at__isnull=False)
            if pending.filter(queued_at__lt=grace, started_at__isnull=True).exists():
                if waiting_in_queue == -1:
                    waiting_in_queue = queue_length(QUEUE)
                if waiting_in_queue == 0:  # their messages are gone (the queue restarted empty)
                    lost = lost | pending.filter(queued_at__lt=grace, started_at__isnull=True)
        ids = list(lost.values_list("pk", flat=True).distinct())
        if not ids:
            continue
        logger.warning("batch %s: %s pending items that no worker will run are queued again", batch.pk, len(ids))
        enqueue(batch, ids)
        resumed += 1
    return resumed
