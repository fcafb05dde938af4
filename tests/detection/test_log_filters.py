"""The log's face filters select faces, not photos: in the list, the CSV and the API alike."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from detection.models import BatchJob, DetectedFace, DetectionLog, Person
from detection.services.review import review_face
from tests.factories import DetectedFaceFactory

pytestmark = pytest.mark.django_db


def _face(log: DetectionLog, mask: str, person: Person | None = None, crop: bool = False) -> DetectedFace:
    face = DetectedFaceFactory(log=log, mask_label=mask, person=person)
    if crop:
        face.crop.save("crop.jpg", ContentFile(b"\xff\xd8jpeg"), save=True)
    return face


@pytest.fixture
def crowd():
    """One photo of three masked faces and one bare face, and a photo of one masked face."""
    ann = Person.objects.create(display_name="Ann")
    crowd = DetectionLog.objects.create(source="upload", face_count=4, original_name="crowd.jpg")
    masked = [_face(crowd, "with_mask", ann), _face(crowd, "with_mask"), _face(crowd, "with_mask")]
    bare = _face(crowd, "without_mask", crop=True)
    single = DetectionLog.objects.create(source="upload", face_count=1, original_name="one.jpg")
    _face(single, "with_mask")
    return {"crowd": crowd, "single": single, "masked": masked, "bare": bare, "ann": ann}


def _csv(client, **params) -> list[dict]:
    response = client.get(reverse("detection:log_export"), params)
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_csv_without_mask_exports_only_unmasked_faces(staff_client, crowd):
    rows = _csv(staff_client, mask="without_mask")
    assert [int(r["face_id"]) for r in rows] == [crowd["bare"].pk]
    assert {r["mask"] for r in rows} == {"without_mask"}
    assert len(_csv(staff_client, mask="with_mask")) == 4
    assert len(_csv(staff_client)) == 5  # no face filter: every face


def test_csv_face_filters_apply_to_one_face_together(staff_client, crowd):
    rows = _csv(staff_client, mask="with_mask", person=crowd["ann"].pk)
    assert [int(r["face_id"]) for r in rows] == [crowd["masked"][0].pk]
    assert _csv(staff_client, mask="without_mask", person=crowd["ann"].pk) == []


def test_csv_follows_the_reviewed_label(staff_client, staff_user, crowd):
    review_face(crowd["masked"][1], user=staff_user, mask_label="without_mask", person=None)
    rows = _csv(staff_client, mask="without_mask")
    assert {int(r["face_id"]) for r in rows} == {crowd["bare"].pk, crowd["masked"][1].pk}


def test_list_shows_the_matching_faces_as_thumbnails(staff_client, crowd):
    response = staff_client.get(reverse("detection:log_list"), {"mask": "without_mask"})
    assert [log.pk for log in response.context["object_list"]] == [crowd["crowd"].pk]
    row = response.context["object_list"][0]
    assert [f.pk for f in row.matching_faces] == [crowd["bare"].pk]
    html = response.content.decode()
    assert "1 of 4 faces" in html
    assert reverse("detection:face_crop", args=[crowd["bare"].pk]) in html
    assert 'class="face-thumb thumb-without_mask"' in html


def test_list_is_usable_on_a_phone(staff_client, crowd):
    html = staff_client.get(reverse("detection:log_list")).content.decode()
    assert '<div class="table-responsive">' in html  # the table scrolls in its box, not the page
    assert 'class="card card-body bg-body-tertiary filter-bar' in html
    assert 'class="form-select form-select-sm"' in html


def test_batch_filter_lists_the_batch_faces(staff_client, staff_user, crowd):
    batch = BatchJob.objects.create(owner=staff_user)
    DetectionLog.objects.filter(pk=crowd["single"].pk).update(batch=batch)
    response = staff_client.get(reverse("detection:log_list"), {"batch": batch.pk})
    assert [log.pk for log in response.context["object_list"]] == [crowd["single"].pk]
    assert f"batch #{batch.pk}" in response.content.decode()


def test_api_shares_the_filterset(token_client, crowd):
    response = token_client.get("/api/v1/detections/", {"mask": "without_mask"})
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [crowd["crowd"].pk]
    bad = token_client.get("/api/v1/detections/", {"mask": "purple"})
    assert bad.status_code == 400 and "mask" in bad.json()
    inverted = token_client.get("/api/v1/detections/", {"date_from": "2026-02-02", "date_to": "2026-01-01"})
    assert inverted.status_code == 400 and "date_to" in inverted.json()
