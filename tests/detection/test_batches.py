"""Batches: upload validation per item, and real Celery workers (run, cancel, retry, killed worker)."""

from __future__ import annotations

import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from detection.models import BatchItem, BatchJob, DetectionLog
from detection.services import batches
from detection.services.uploads import UploadItem, expand_uploads
from tests.detection.analysis_fixtures import make_zip, media_files
from tests.photos import encode, face_photo


def _file(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


def _reasons(*files) -> dict[str, str]:
    return {item.name: item.error for item in expand_uploads(files)}


# --- validation (no database) -------------------------------------------------------------------
def test_every_bad_zip_member_gets_a_reason(face_jpeg):
    import io

    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ok.jpg", face_jpeg)
        archive.writestr("/etc/abs.jpg", face_jpeg)
        archive.writestr("a/../../up.jpg", face_jpeg)
        archive.writestr("inner.zip", make_zip({"x.jpg": face_jpeg}))
        archive.writestr("hidden-zip.jpg", make_zip({"x.jpg": face_jpeg}))
        archive.writestr("readme.txt", b"not a photo")
        archive.writestr("empty.jpg", b"")
        archive.writestr("zeros.jpg", b"\0" * (30 << 20))  # 30 MB of zeros: over the size limit
        archive.writestr("bomb.png", encode(np.zeros((8000, 8000, 3), np.uint8), "PNG"))  # 64 MP
        archive.writestr("__MACOSX/._ok.jpg", b"resource fork")
    reasons = _reasons(_file("set.zip", bomb.getvalue()))
    assert reasons.pop("set.zip/ok.jpg") == ""
    assert "absolute" in reasons.pop("set.zip//etc/abs.jpg")
    assert "'..'" in reasons.pop("set.zip/a/../../up.jpg")
    assert "nested ZIP" in reasons.pop("set.zip/inner.zip")
    assert "nested ZIP" in reasons.pop("set.zip/hidden-zip.jpg")
    assert "not a recognised image" in reasons.pop("set.zip/readme.txt")
    assert "empty" in reasons.pop("set.zip/empty.jpg")
    assert "too large" in reasons.pop("set.zip/zeros.jpg")
    assert "too large" in reasons.pop("set.zip/bomb.png")
    assert reasons == {}  # macOS metadata is skipped, not reported


def test_whole_zip_refusals(face_jpeg, settings):
    settings.MAX_ZIP_MEMBERS = 3
    many = make_zip({f"{i}.jpg": face_jpeg for i in range(4)})
    assert "has 4 files (limit 3)" in _reasons(_file("many.zip", many))["many.zip"]
    assert "damaged" in _reasons(_file("cut.zip", many[: len(many) // 2]))["cut.zip"]
    assert "no files" in _reasons(_file("void.zip", make_zip({})))["void.zip"]


def test_plain_files(face_jpeg):
    reasons = _reasons(_file("a.jpg", face_jpeg), _file("b.jpg", b""), _file("c.gif", b"GIF89a garbage"))
    assert reasons == {"a.jpg": "", "b.jpg": "the file is empty", "c.gif": reasons["c.gif"]}
    assert "damaged" in reasons["c.gif"] or "not a recognised" in reasons["c.gif"]


# --- batch creation through the page (no worker) -------------------------------------------------
@pytest.mark.django_db
def test_several_files_become_a_batch_with_refused_items_listed(face_jpeg, staff_client, monkeypatch):
    monkeypatch.setattr(batches, "enqueue", lambda batch, item_ids=None: 1)
    response = staff_client.post(
        reverse("detection:upload"),
        {
            "files": [
                _file("a.jpg", face_jpeg),
                _file("b.txt", b"text"),
                _file("c.zip", make_zip({"d.jpg": face_jpeg})),
            ],
            "mode": "fast",
        },
    )
    batch = BatchJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("detection:batch_detail", args=[batch.pk])
    assert (batch.total, batch.failed, batch.status, batch.mode) == (3, 1, "queued", "fast")
    refused = batch.items.get(name="b.txt")
    assert refused.status == "failed" and not refused.upload and "not a recognised image" in refused.error
    assert all(Path(i.upload.path).is_file() for i in batch.items.filter(status="pending"))
    page = staff_client.get(response["Location"])
    assert page.status_code == 200 and b"not a recognised image" in page.content and b"batch-bar" in page.content


@pytest.mark.django_db
def test_a_batch_of_only_bad_files_fails_at_once(staff_client):
    staff_client.post(reverse("detection:upload"), {"files": [_file("a.txt", b"x"), _file("b.txt", b"y")]})
    batch = BatchJob.objects.get()
    assert batch.status == "failed" and batch.failed == 2 and batch.finished_at


@pytest.mark.django_db
def test_failure_while_creating_leaves_no_upload_file(face_jpeg, staff_user, monkeypatch):
    from django.conf import settings

    root = Path(settings.MEDIA_ROOT) / "batches"
    before = set(root.glob("*")) if root.exists() else set()

    def items():
        yield UploadItem("a.jpg", face_jpeg)
        raise RuntimeError("client went away")

    with pytest.raises(RuntimeError):
        batches.create_batch(staff_user, items())
    assert BatchJob.objects.count() == 0
    assert (set(root.glob("*")) if root.exists() else set()) == before


# --- real workers -------------------------------------------------------------------------------
def wait_for(predicate, timeout: float = 120, what: str = "condition", worker=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n{worker.output() if worker else ''}")


def _items(data: bytes, n: int, bad: int = 0) -> list[UploadItem]:
    items = [UploadItem(f"img{i:03d}.jpg", data) for i in range(n)]
    cut = encode(face_photo(), "JPEG")[:4000]  # passes the header check, fails to decode
    return items + [UploadItem(f"cut{i}.jpg", cut) for i in range(bad)]


def _finished(batch_id: int) -> bool:
    return BatchJob.objects.get(pk=batch_id).status not in batches.ACTIVE


def test_batch_runs_on_a_real_worker(classifier, face_jpeg, staff_user, celery_worker):
    batch = batches.create_batch(staff_user, _items(face_jpeg, 5, bad=1), mode="fast")
    wait_for(lambda: _finished(batch.pk), what="the batch to finish", worker=celery_worker)
    batch.refresh_from_db()
    assert (batch.status, batch.done, batch.failed, batch.total) == ("partial", 5, 1, 6)
    assert batch.started_at and batch.finished_at
    done = batch.items.filter(status="done")
    assert all(i.log and i.log.batch_id == batch.pk and i.log.source == "batch" and not i.upload for i in done)
    failed = batch.items.get(status="failed")
    assert "truncated" in failed.error and failed.upload  # kept for a retry
    assert DetectionLog.objects.filter(batch=batch).count() == 5


def test_cancel_a_running_batch_then_retry(classifier, face_jpeg, staff_user, celery_worker):
    batch = batches.create_batch(staff_user, _items(face_jpeg, 40), mode="accurate")
    wait_for(lambda: BatchJob.objects.get(pk=batch.pk).done >= 1, what="the first item", worker=celery_worker)
    assert batches.cancel_batch(batch)
    time.sleep(3)  # the chunk stops before its next item
    batch.refresh_from_db()
    done = batch.done
    time.sleep(2)
    batch.refresh_from_db()
    assert batch.status == "cancelled" and batch.done == done < 40
    assert batch.items.filter(status="pending").count() == 40 - done
    assert batches.retry_batch(batch) == 40 - done
    wait_for(lambda: _finished(batch.pk), timeout=240, what="the retried batch", worker=celery_worker)
    batch.refresh_from_db()
    assert (batch.status, batch.done, batch.failed) == ("succeeded", 40, 0)
    assert DetectionLog.objects.filter(batch=batch).count() == 40


def test_a_killed_worker_loses_no_item(classifier, face_jpeg, staff_user, worker_factory, monkeypatch):
    monkeypatch.setenv("BATCH_STALL_SECONDS", "2")
    first = worker_factory().start()
    batch = batches.create_batch(staff_user, _items(face_jpeg, 30), mode="accurate")
    wait_for(lambda: BatchJob.objects.get(pk=batch.pk).done >= 2, what="progress", worker=first)
    first.kill()
    killed_at = BatchJob.objects.get(pk=batch.pk).done
    assert killed_at < 30, "the batch finished before the kill; make it longer"
    time.sleep(2.5)  # the heartbeat goes stale; the next worker resumes the batch when it starts
    second = worker_factory().start()
    wait_for(lambda: _finished(batch.pk), timeout=240, what="the resumed batch", worker=second)
    batch.refresh_from_db()
    assert (batch.status, batch.done, batch.failed) == ("succeeded", 30, 0)
    assert DetectionLog.objects.filter(batch=batch).count() == 30  # nothing logged twice
    assert set(BatchItem.objects.filter(batch=batch).values_list("status", flat=True)) == {"done"}


@pytest.mark.django_db
@override_settings(BATCH_STALL_SECONDS=60)
def test_recovery_skips_batches_with_a_fresh_heartbeat(staff_user, monkeypatch, face_jpeg):
    queued = []
    monkeypatch.setattr(batches, "enqueue", lambda batch, item_ids=None: queued.append(batch.pk))
    batch = batches.create_batch(staff_user, _items(face_jpeg, 2))
    batch.items.update(queued_at=timezone.now(), started_at=timezone.now())  # a chunk started on them
    batches.heartbeat(batch.pk)
    assert batches.recover_stalled_batches() == 0
    from django.core.cache import cache

    cache.delete(batches.HEARTBEAT_KEY.format(batch.pk))
    assert batches.recover_stalled_batches() == 1


# --- writing outcomes (in process) --------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_cancel_while_outcomes_are_written_reports_final_counts(face_jpeg, staff_user, monkeypatch):
    """A cancel that lands while a chunk writes its outcomes either drops them or waits for them:
    the counts it reports never change afterwards (a batch page once showed 1 done, then 9)."""
    monkeypatch.setattr(batches, "enqueue", lambda batch, item_ids=None: 0)
    batch = batches.create_batch(staff_user, _items(face_jpeg, 3), mode="fast")
    outcomes = [batches.Outcome(item, None, "unreadable") for item in batch.items.all()]
    writing, resume = threading.Event(), threading.Event()
    real_write_logs = batches.write_logs

    def write_logs(logs):
        writing.set()
        resume.wait(10)
        return real_write_logs(logs)

    monkeypatch.setattr(batches, "write_logs", write_logs)
    reported: dict[str, int] = {}

    def save() -> None:
        try:
            batches.save_outcomes(batch, outcomes)
        finally:
            connection.close()

    def cancel() -> None:
        try:
            mine = BatchJob.objects.get(pk=batch.pk)
            assert batches.cancel_batch(mine)
            reported["failed"] = mine.failed
        finally:
            connection.close()

    saver = threading.Thread(target=save)
    saver.start()
    assert writing.wait(10)
    canceller = threading.Thread(target=cancel)
    canceller.start()
    canceller.join(1)  # the cancel arrives in the middle of the write
    resume.set()
    saver.join(30)
    canceller.join(30)
    batch.refresh_from_db()
    assert batch.status == "cancelled"
    assert reported["failed"] == batch.failed


@pytest.mark.django_db
def test_a_chunk_delivered_twice_logs_each_item_once(classifier, face_jpeg, staff_user, monkeypatch):
    monkeypatch.setattr(batches, "enqueue", lambda batch, item_ids=None: 0)
    batch = batches.create_batch(staff_user, _items(face_jpeg, 3, bad=1), mode="fast")
    ids = list(batch.items.order_by("pk").values_list("pk", flat=True))
    late = [batches.analyse_item(batch, item) for item in batch.items.order_by("pk")]  # a second delivery
    batches.run_chunk(batch.pk, ids)
    files = media_files()
    batches.save_outcomes(batch, late)  # finds every item already written: skips them all
    batch.refresh_from_db()
    assert (batch.status, batch.done, batch.failed) == ("partial", 3, 1)
    assert DetectionLog.objects.filter(batch=batch).count() == 3
    assert BatchItem.objects.get(batch=batch, status="failed").attempts == 1
    assert media_files() == files


@pytest.mark.django_db
def test_an_item_that_cannot_be_written_fails_alone(
    classifier, face_jpeg, staff_user, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(batches, "enqueue", lambda batch, item_ids=None: 0)
    real_prepare = batches.prepare_log

    def prepare_log(*args, **kwargs):
        if kwargs["original_name"] == "img001.jpg":
            raise RuntimeError("disk full")
        return real_prepare(*args, **kwargs)

    monkeypatch.setattr(batches, "prepare_log", prepare_log)
    before = media_files()
    batch = batches.create_batch(staff_user, _items(face_jpeg, 3), mode="fast")
    with django_capture_on_commit_callbacks(execute=True):  # done items' uploads are deleted
        batches.run_chunk(batch.pk, list(batch.items.values_list("pk", flat=True)))
    batch.refresh_from_db()
    assert (batch.status, batch.done, batch.failed) == ("partial", 2, 1)
    failed = batch.items.get(status="failed")
    assert (failed.name, failed.error) == ("img001.jpg", "internal error: RuntimeError")
    logs = DetectionLog.objects.filter(batch=batch)
    logged = {f.path for log in logs for f in (log.image, *[face.crop for face in log.faces.all()])}
    assert len(logged) == 4
    assert media_files() - before == logged | {failed.upload.path}  # no orphan files


@pytest.mark.django_db
def test_a_group_of_outcomes_costs_the_same_statements_as_one(classifier, face_jpeg, staff_user, monkeypatch):
    from detection.services import analysis

    monkeypatch.setattr(batches, "enqueue", lambda batch, item_ids=None: 0)
    monkeypatch.setattr(analysis, "RECENT_TTL_S", 3600.0)  # settings read once for the whole test

    def statements(count: int) -> int:
        batch = batches.create_batch(staff_user, _items(face_jpeg, count, bad=1), mode="fast")
        outcomes = [batches.analyse_item(batch, item) for item in batch.items.order_by("pk")]
        with CaptureQueriesContext(connection) as queries:
            batches.save_outcomes(batch, outcomes)
        assert DetectionLog.objects.filter(batch=batch).count() == count
        return len(queries.captured_queries)

    statements(1)  # reads the settings and the model label
    assert statements(2) == statements(6)
