"""Recovery after a worker dies or the database blinks: fast, without repeating work that is only
waiting, and without leftovers (tasks redelivered twice, imports run twice, orphan candidates)."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from detection.models import BatchItem, BatchJob, DetectionLog, FaceImport, FaceSample
from detection.services import batches
from detection.services.consent import Declaration, new_record
from detection.services.registry_import import run_import
from detection.services.uploads import UploadItem
from tests.detection.registry_photos import jpeg, other_face, zip_of
from tests.faults.conftest import wait_for
from tests.photos import face_photo

pytestmark = pytest.mark.faults


def _finished(batch_id: int) -> bool:
    return BatchJob.objects.get(pk=batch_id).status not in batches.ACTIVE


def test_a_killed_worker_is_resumed_within_seconds(classifier, face_jpeg, staff_user, own_redis_workers):
    """Default settings: the chunk a SIGKILLed worker held starts again a few seconds after another
    worker is there (it took 60-130 s: a one-minute stall time and a one-minute sweep)."""
    first = own_redis_workers()
    first.extra_env.pop("BATCH_STALL_SECONDS")
    first.start()
    # Several chunks, so that on a fast machine the batch cannot end between the poll and the kill.
    items = 6 * batches.CHUNK_SIZE
    batch = batches.create_batch(staff_user, [UploadItem(f"{i}.jpg", face_jpeg) for i in range(items)], mode="fast")
    wait_for(lambda: BatchJob.objects.get(pk=batch.pk).done >= 2, timeout=120, what=f"progress\n{first.output()}")
    first.kill()
    assert BatchJob.objects.get(pk=batch.pk).done < items, "the batch ended before the kill; make it longer"
    second = own_redis_workers()
    second.extra_env.pop("BATCH_STALL_SECONDS")
    launched = timezone.now()
    second.start()
    restarted = BatchItem.objects.filter(batch=batch, started_at__gt=launched)
    wait_for(restarted.exists, timeout=30, what=f"the killed chunk to start again\n{second.output()}", step=0.5)
    wait_for(lambda: _finished(batch.pk), timeout=240, what=f"the batch to end\n{second.output()}", step=0.5)
    batch.refresh_from_db()
    assert (batch.status, batch.done, batch.failed) == ("succeeded", items, 0)
    assert DetectionLog.objects.filter(batch=batch).count() == items


@pytest.mark.django_db(transaction=True)
def test_a_database_blip_in_a_chunk_is_retried_by_the_task(classifier, face_jpeg, staff_user):
    """A chunk that meets a lost database connection is retried with backoff by Celery, not
    failed item by item ("internal error: OperationalError") nor left to the sweep."""
    from django.db import connection

    from detection.tasks.batches import run_batch_chunk

    if connection.vendor != "postgresql":
        pytest.skip("the blip is a terminated PostgreSQL connection")
    batch = batches.create_batch(staff_user, [UploadItem(f"{i}.jpg", face_jpeg) for i in range(3)], mode="fast")
    ids = list(batch.items.values_list("pk", flat=True))
    blips = []

    def cut_the_connection(*args, **kwargs):
        """The first write of the chunk finds its connection terminated by the server."""
        if not blips:
            blips.append(connection.connection.info.backend_pid)
            import psycopg

            with psycopg.connect(**connection.get_connection_params()) as other:
                other.execute("SELECT pg_terminate_backend(%s)", [blips[0]])
        return real_save(*args, **kwargs)

    real_save = batches._save
    batches._save = cut_the_connection  # the fault is real (the server ends the session); only its moment is chosen
    try:
        result = run_batch_chunk.apply(args=[batch.pk, ids])  # retries run here, one after the other
    finally:
        batches._save = real_save
    assert result.successful(), result.traceback
    batch.refresh_from_db()
    assert blips and (batch.status, batch.done, batch.failed) == ("succeeded", 3, 0)
    assert DetectionLog.objects.filter(batch=batch).count() == 3


def test_a_chunk_waiting_in_the_queue_is_not_stalled(redis_backends, face_jpeg, staff_user, transactional_db, settings):
    """Batches queued behind others (no worker has reached them) are left alone, however long
    they wait; only when their messages are gone from the queue are they queued again."""
    settings.BATCH_STALL_SECONDS = 1
    queued = []
    for size in (40, 10):
        batch = batches.create_batch(staff_user, [UploadItem(f"{i}.jpg", face_jpeg) for i in range(size)])
        queued.append(batch)
    chunks = redis.Redis.from_url(redis_backends.url()).llen("batch")
    assert chunks == 3 + 1
    time.sleep(2)  # waiting longer than the stall time behind other work: no heartbeat, no worker yet
    cache.delete_many([batches.HEARTBEAT_KEY.format(batch.pk) for batch in queued])
    assert batches.recover_stalled_batches() == 0
    assert redis.Redis.from_url(redis_backends.url()).llen("batch") == chunks  # nothing queued twice

    redis_backends.restart()  # Redis comes back empty: the messages are lost
    assert batches.recover_stalled_batches() == 2
    assert redis.Redis.from_url(redis_backends.url()).llen("batch") == chunks


def test_task_time_limits_are_shorter_than_the_visibility_timeout():
    """A message a killed worker held comes back after the visibility timeout: no task may run
    longer, or a slow task would be delivered to a second worker while it still runs."""
    from celery import current_app

    current_app.loader.import_default_modules()
    limits = [
        task.time_limit or settings.CELERY_TASK_TIME_LIMIT
        for name, task in current_app.tasks.items()
        if not name.startswith("celery.")
    ]
    assert max(limits) < settings.CELERY_VISIBILITY_TIMEOUT
    assert current_app.tasks["detection.tasks.run_batch_chunk"].time_limit <= 600


MEMBERS = {"Eileen_Collins/a.jpg": face_photo, "Grace_Hopper/g.jpg": other_face}


def _import(admin_user) -> FaceImport:
    from django.core.files.base import ContentFile

    consent = new_record(Declaration("consent", note="team photos"), user=admin_user)
    job = FaceImport(owner=admin_user, source_name="team.zip", consent=consent)
    archive = zip_of({name: jpeg(make()) for name, make in MEMBERS.items()})
    job.archive.save("team.zip", ContentFile(archive), save=False)
    job.save()
    return job


@pytest.mark.django_db
def test_an_import_delivered_twice_enrols_each_photo_once(admin_user):
    job = _import(admin_user)
    again = _import(admin_user).archive.name  # the archive as it was when the second message came
    assert run_import(job.pk) == {"accepted": 2, "rejected": 0}
    FaceImport.objects.filter(pk=job.pk).update(archive=again)
    run_import(job.pk)
    job.refresh_from_db()  # the second delivery changed nothing: the report still says what happened
    assert (job.status, job.done, job.failed) == ("succeeded", 2, 0)
    assert [row["status"] for row in job.report] == ["accepted", "accepted"]
    assert FaceSample.objects.filter(variant_of=None).count() == 2


@pytest.mark.django_db
def test_an_import_whose_worker_died_resumes_without_duplicates(admin_user):
    from detection.services import registry_import

    job = _import(admin_user)
    # the worker enrolled the first photo, then died before its report was saved
    name = "Eileen_Collins/a.jpg"
    registry_import._import_one(job, name, "Eileen_Collins", lambda: jpeg(face_photo()), {})
    FaceImport.objects.filter(pk=job.pk).update(status="running", heartbeat_at=timezone.now())
    assert run_import(job.pk) == {"accepted": 0, "rejected": 0}  # still beating: not taken over
    FaceImport.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    assert run_import(job.pk) == {"accepted": 2, "rejected": 0}
    job.refresh_from_db()
    assert job.status == "succeeded" and [row["status"] for row in job.report] == ["accepted", "accepted"]
    for file in MEMBERS:
        assert FaceSample.objects.filter(variant_of=None, import_file=file).count() == 1


@pytest.mark.django_db
def test_the_reaper_rejects_the_candidate_of_a_job_killed_during_its_promotion_check(settings, tmp_path):
    from training.models import ModelVersion, TrainingJob
    from training.services import jobs, registry

    settings.MEDIA_ROOT = tmp_path
    source = tmp_path / "m.tflite"
    source.write_bytes((Path(settings.BASE_DIR) / "detection/engine/models/mask_classifier.tflite").read_bytes())
    stale = timezone.now() - timedelta(minutes=10)
    job = TrainingJob.objects.create(status="running", started_at=stale, heartbeat_at=stale, worker="w@h")
    candidate = registry.register_version(source, job=job)
    TrainingJob.objects.filter(pk=job.pk).update(result_version=candidate)
    assert registry.artifact_path(candidate).is_file()

    jobs.reap_stale_jobs()
    candidate.refresh_from_db()
    assert TrainingJob.objects.get(pk=job.pk).status == "failed"
    assert candidate.status == ModelVersion.Status.REJECTED
    assert "stopped before the promotion check" in candidate.gate_report["reason"]
    assert not registry.artifact_path(candidate).exists()
