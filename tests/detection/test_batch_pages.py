"""Batch pages: who was recognised per item, the batch summary, links to its faces and CSV, one
status badge everywhere, and a cancel that stops before the next item."""

from __future__ import annotations

import pytest
from django.urls import reverse

from detection.models import BatchItem, BatchJob, DetectedFace, DetectionLog, Person
from detection.services import batches
from detection.services.uploads import UploadItem
from tests.factories import DetectedFaceFactory
from training.models import TrainingJob

pytestmark = pytest.mark.django_db


def _face(log: DetectionLog, mask: str, person: Person | None = None) -> DetectedFace:
    return DetectedFaceFactory(log=log, mask_label=mask, person=person)


@pytest.fixture
def finished_batch(staff_user):
    """Two analysed items (Ann and Bo masked, one unknown face without a mask) and a failed one."""
    batch = BatchJob.objects.create(owner=staff_user, status="succeeded", total=3, done=2, failed=1)
    ann, bo = Person.objects.create(display_name="Ann Lee"), Person.objects.create(display_name="Bo Chan")
    first = DetectionLog.objects.create(source="batch", batch=batch, face_count=2, summary="2 faces")
    _face(first, "with_mask", ann), _face(first, "without_mask")
    second = DetectionLog.objects.create(source="batch", batch=batch, face_count=1, summary="1 face")
    _face(second, "with_mask", bo)
    BatchItem.objects.create(batch=batch, name="a.jpg", status="done", log=first)
    BatchItem.objects.create(batch=batch, name="b.jpg", status="done", log=second)
    BatchItem.objects.create(batch=batch, name="c.jpg", status="failed", error="not a recognised image")
    return batch


def test_summary_and_recognised_people_per_item(staff_client, finished_batch):
    response = staff_client.get(reverse("detection:batch_detail", args=[finished_batch.pk]))
    summary = response.context["summary"]
    assert (summary["faces"], summary["masked"], summary["unmasked"], summary["unknown"], summary["people"]) == (
        3,
        2,
        1,
        1,
        2,
    )
    assert summary["compliance"] == pytest.approx(2 / 3, abs=1e-3)
    html = response.content.decode()
    assert 'id="summary-compliance">67%' in html
    rows = html.split('<tr class="item-')
    assert "Ann Lee" in rows[1] and "Bo Chan" not in rows[1] and "Bo Chan" in rows[2]
    assert html.count('class="face-thumb thumb-with_mask"') == 2 and html.count("thumb-without_mask") == 1


def test_links_to_the_batch_faces_and_csv(staff_client, finished_batch):
    html = staff_client.get(reverse("detection:batch_detail", args=[finished_batch.pk])).content.decode()
    assert f"{reverse('detection:log_list')}?batch={finished_batch.pk}" in html
    assert f"{reverse('detection:log_export')}?batch={finished_batch.pk}" in html
    other = DetectionLog.objects.create(source="upload", face_count=1)
    _face(other, "with_mask")
    csv = b"".join(staff_client.get(reverse("detection:log_export"), {"batch": finished_batch.pk}).streaming_content)
    assert len(csv.decode().strip().splitlines()) == 1 + 3  # header + the batch's three faces


def test_one_status_badge_everywhere(staff_client, admin_client, finished_batch, staff_user):
    TrainingJob.objects.create(status="succeeded", epochs=1)
    badge = '<span class="badge text-bg-success" data-status="succeeded">Succeeded</span>'
    assert badge in staff_client.get(reverse("detection:batch_list")).content.decode()
    assert (
        badge.replace('" data', '" id="batch-status" data')
        in staff_client.get(reverse("detection:batch_detail", args=[finished_batch.pk])).content.decode()
    )
    assert badge in admin_client.get(reverse("training:job_list")).content.decode()
    failed = '<span class="badge text-bg-danger" data-status="failed">Failed</span>'
    assert failed in staff_client.get(reverse("detection:batch_detail", args=[finished_batch.pk])).content.decode()


def test_a_cancel_stops_the_chunk_before_its_next_item(staff_user, monkeypatch):
    monkeypatch.setattr(batches, "enqueue", lambda batch, item_ids=None: 0)
    batch = batches.create_batch(staff_user, [UploadItem(f"{i}.jpg", b"\xff\xd8\xff" + bytes(64)) for i in range(5)])
    analysed = []

    def analyse_then_cancel(batch, item):  # the user presses Cancel while the first item is analysed
        analysed.append(item.pk)
        batches.cancel_batch(batch)
        return batches.Outcome(item, None, "stand-in analysis")

    monkeypatch.setattr(batches, "analyse_item", analyse_then_cancel)
    batches.run_chunk(batch.pk, list(batch.items.values_list("pk", flat=True)))
    batch.refresh_from_db()
    assert len(analysed) == 1
    assert (batch.status, batch.done, batch.failed) == ("cancelled", 0, 0)  # counts stop where Cancel left them
    assert batch.items.filter(status="pending").count() == 5  # a retry runs them all


def test_a_cancelled_batch_shows_no_cancel(staff_client, staff_user, monkeypatch):
    monkeypatch.setattr(batches, "enqueue", lambda batch, item_ids=None: 0)
    batch = batches.create_batch(staff_user, [UploadItem("a.jpg", b"\xff\xd8\xff" + bytes(64))])
    page = reverse("detection:batch_detail", args=[batch.pk])
    assert 'id="batch-cancel"' in staff_client.get(page).content.decode()
    staff_client.post(reverse("detection:batch_cancel", args=[batch.pk]))
    html = staff_client.get(page).content.decode()
    assert 'id="batch-cancel"' not in html and 'data-status="cancelled">Cancelled<' in html
