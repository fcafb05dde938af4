"""A full or read-only media disk: a clear message instead of a bare 500, no half-written file, and
a batch whose items failed ends "finished with failures", not "succeeded"."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from detection.models import BatchJob, DetectionLog
from detection.services import batches
from detection.services.uploads import UploadItem
from tests.faults.conftest import fill, remount

pytestmark = pytest.mark.faults


def _files(root) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and not p.name.startswith("filler")}


def _analyse(client, data: bytes):
    image = SimpleUploadedFile("a.jpg", data, content_type="image/jpeg")
    return client.post("/api/v1/analyze/", {"image": image, "store": "true"}, format="multipart")


@pytest.mark.django_db
@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_an_upload_to_a_broken_disk_gets_a_clear_503_and_leaves_nothing(
    fault, classifier, face_jpeg, small_media, token_client
):
    from detection.models import PlatformSettings

    PlatformSettings.objects.update_or_create(pk=1, defaults={"store_images": "original"})
    if fault == "full":
        fill(small_media)
    else:
        remount(small_media, "ro")
    before = _files(small_media)
    response = _analyse(token_client, face_jpeg)
    assert response.status_code == 503, response.content
    detail = json.loads(response.content)["detail"]
    assert ("disk is full" if fault == "full" else "read-only") in detail and str(small_media) not in detail
    assert response["Retry-After"]
    assert _files(small_media) == before  # no half-written photo, no temporary file
    assert not DetectionLog.objects.exists()


@pytest.mark.django_db
def test_a_storage_failure_mid_batch_ends_finished_with_failures(
    classifier, face_jpeg, small_media, staff_user, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(batches, "enqueue", lambda batch, item_ids=None: 0)  # chunks run here, in order
    batch = batches.create_batch(staff_user, [UploadItem(f"{i}.jpg", face_jpeg) for i in range(6)], mode="fast")
    ids = list(batch.items.order_by("pk").values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        batches.run_chunk(batch.pk, ids[:3])
    remount(small_media, "ro")  # the disk fails mid-batch
    with django_capture_on_commit_callbacks(execute=True):
        batches.run_chunk(batch.pk, ids[3:])
    batch.refresh_from_db()
    assert (batch.status, batch.done, batch.failed) == (BatchJob.Status.PARTIAL, 3, 3)
    assert batch.get_status_display() == "Finished with failures"
    errors = set(batch.items.filter(status="failed").values_list("error", flat=True))
    assert errors == {"could not store the file: the media folder is read-only"}
    remount(small_media, "rw")
    assert batches.retry_batch(batch) == 3  # the uploads were kept: the failed items can run again
