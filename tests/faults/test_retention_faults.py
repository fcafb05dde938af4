"""Retention covers every stored image, and a delete that fails is retried on the next run
instead of leaving the photo on disk forever."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from detection.models import BatchItem, BatchJob, DetectedFace, DetectionLog, FaceImport
from detection.services import batches
from detection.services.analysis import analyse_and_log
from detection.services.retention import purge_old_images
from detection.services.uploads import UploadItem
from tests.faults.conftest import move_media, remount

pytestmark = pytest.mark.faults

OLD = timedelta(days=40)


def _stored(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def _old_logs(user, data: bytes, count: int) -> list[DetectionLog]:
    logs = [analyse_and_log(data, user=user, source="upload", store="original") for _ in range(count)]
    DetectionLog.objects.filter(pk__in=[log.pk for log in logs]).update(created_at=timezone.now() - OLD)
    return logs


@pytest.mark.django_db
def test_a_failed_delete_is_retried_on_the_next_run(classifier, face_jpeg, small_media, staff_user):
    logs = _old_logs(staff_user, face_jpeg, 3)
    files = _stored(small_media)
    assert len(files) == 6  # three photos, three face crops

    remount(small_media, "ro")  # deletes fail
    report = purge_old_images(30)
    assert (report.deleted, report.failed) == (0, 6)
    assert all(log.image for log in DetectionLog.objects.all())  # rows still point at their files

    remount(small_media, "rw")
    report = purge_old_images(30)
    assert (report.detection_images, report.face_crops, report.failed) == (3, 3, 0)
    assert _stored(small_media) == set()
    assert not DetectionLog.objects.exclude(image="").exists()
    assert not DetectedFace.objects.exclude(crop="").exists()
    assert DetectionLog.objects.filter(pk__in=[log.pk for log in logs], face_count=1).count() == 3  # figures stay


@pytest.mark.django_db
def test_retention_covers_every_stored_image(classifier, face_jpeg, staff_user, admin_user, settings, tmp_path):
    """Detection photos and crops, uploads of cancelled, failed and finished batches, import
    archives and orphan files: all deleted once old; what is recent or still running is kept."""
    move_media(settings, tmp_path)
    old_logs = _old_logs(staff_user, face_jpeg, 1)
    new_log = analyse_and_log(face_jpeg, user=staff_user, source="upload", store="original")

    def batch(status: str, age: timedelta, *, items: int = 2) -> BatchJob:
        made = batches.create_batch(staff_user, [UploadItem(f"{i}.jpg", face_jpeg) for i in range(items)])
        when = timezone.now() - age
        finished = None if status in batches.ACTIVE else when
        BatchJob.objects.filter(pk=made.pk).update(status=status, created_at=when, finished_at=finished)
        made.items.update(status="failed" if status != "cancelled" else "pending")
        return made

    ended = [batch(status, OLD) for status in ("cancelled", "failed", "partial", "succeeded")]
    running, recent = batch("running", OLD), batch("failed", timedelta(days=1))
    archive = FaceImport(owner=admin_user, source_name="team.zip", status="failed")
    archive.archive.save("team.zip", ContentFile(b"PK\x05\x06" + b"\0" * 18), save=False)
    archive.save()
    FaceImport.objects.filter(pk=archive.pk).update(created_at=timezone.now() - OLD)
    orphan = default_storage.save("batches/left-behind.jpg", ContentFile(face_jpeg))
    old = time.time() - OLD.total_seconds()
    os.utime(default_storage.path(orphan), (old, old))

    report = purge_old_images(30)
    assert (report.detection_images, report.face_crops) == (1, 1)
    assert report.batch_uploads == 8 and report.import_archives == 1 and report.orphan_files == 1
    assert report.failed == 0
    for made in ended:
        assert not made.items.exclude(upload="").exists()
    kept = BatchItem.objects.filter(batch__in=[running, recent]).exclude(upload="")
    assert kept.count() == 4 and all(default_storage.exists(item.upload.name) for item in kept)
    assert not default_storage.exists(orphan)
    assert not FaceImport.objects.get(pk=archive.pk).archive
    assert not DetectionLog.objects.get(pk=old_logs[0].pk).image
    assert default_storage.exists(DetectionLog.objects.get(pk=new_log.pk).image.name)
    stored = _stored(tmp_path) - {"models"}
    assert {item.upload.name for item in kept} <= stored
    assert all(not name.startswith("imports/") for name in stored)
