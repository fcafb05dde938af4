"""Detection log: filters shared by page, CSV and API; review beside the prediction; retention."""

from __future__ import annotations

import csv
import io
import os
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from detection.models import Camera, DetectionLog, Person
from detection.services.analysis import analyse_and_log
from detection.services.retention import purge_old_images
from detection.services.review import UNCHANGED, review_face
from tests.factories import DetectedFaceFactory

pytestmark = pytest.mark.django_db


def _log(source="upload", masks=("with_mask",), people=(None,), camera=None, days_ago=0) -> DetectionLog:
    log = DetectionLog.objects.create(
        source=source, camera=camera, face_count=len(masks), original_name=f"{source}.jpg"
    )
    for mask, person in zip(masks, people, strict=True):
        DetectedFaceFactory(log=log, mask_label=mask, person=person)
    if days_ago:
        DetectionLog.objects.filter(pk=log.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    return log


@pytest.fixture
def logs():
    cam = Camera.objects.create(name="Gate")
    ann = Person.objects.create(display_name="Ann")
    return {
        "masked": _log("upload", ("with_mask",), (ann,)),
        "bare": _log("camera", ("without_mask",), (None,), camera=cam),
        "old": _log("api", ("without_mask",), (ann,), days_ago=10),
        "empty": _log("batch", (), ()),
        "cam": cam,
        "ann": ann,
    }


def _ids(client, **params) -> set[int]:
    response = client.get(reverse("detection:log_list"), params)
    assert response.status_code == 200
    return {log.pk for log in response.context["object_list"]}


def test_filters_on_the_page(staff_client, logs):
    pk = {k: v.pk for k, v in logs.items() if isinstance(v, DetectionLog)}
    assert _ids(staff_client) == set(pk.values())
    assert _ids(staff_client, source="camera") == {pk["bare"]}
    assert _ids(staff_client, camera=logs["cam"].pk) == {pk["bare"]}
    assert _ids(staff_client, mask="without_mask") == {pk["bare"], pk["old"]}
    assert _ids(staff_client, mask="none") == {pk["empty"]}
    assert _ids(staff_client, person=logs["ann"].pk) == {pk["masked"], pk["old"]}
    assert _ids(staff_client, unknown="on") == {pk["bare"]}
    today = timezone.localdate()
    assert _ids(staff_client, date_from=today - timedelta(days=11), date_to=today - timedelta(days=9)) == {pk["old"]}
    assert _ids(staff_client, date_from=today) == {pk["masked"], pk["bare"], pk["empty"]}
    assert _ids(staff_client, reviewed="reviewed") == set()
    # a bad value is reported and ignored, never a server error
    response = staff_client.get(reverse("detection:log_list"), {"date_from": "yesterday", "source": "camera"})
    assert response.status_code == 200 and {x.pk for x in response.context["object_list"]} == {pk["bare"]}
    assert b"Enter a valid date" in response.content


def test_pagination(staff_client):
    for _ in range(30):
        _log()
    first = staff_client.get(reverse("detection:log_list"))
    assert len(first.context["object_list"]) == 25 and first.context["is_paginated"]
    assert len(staff_client.get(reverse("detection:log_list"), {"page": 2}).context["object_list"]) == 5


def test_csv_export_uses_the_same_filters(staff_client, logs):
    response = staff_client.get(reverse("detection:log_export"), {"mask": "without_mask"})
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert {int(r["log_id"]) for r in rows} == {logs["bare"].pk, logs["old"].pk}
    assert {r["mask"] for r in rows} == {"without_mask"} and rows[0]["camera"] in ("Gate", "")
    everything = b"".join(staff_client.get(reverse("detection:log_export")).streaming_content).decode()
    assert len(list(csv.DictReader(io.StringIO(everything)))) == 4  # the log without faces has one row


def test_api_uses_the_same_filters(token_client, logs):
    body = token_client.get("/api/v1/detections/", {"person": logs["ann"].pk, "mask": "with_mask"}).json()
    assert [r["id"] for r in body["results"]] == [logs["masked"].pk]


def test_review_keeps_prediction_and_feeds_the_training_pool(staff_client, staff_user, logs):
    face = logs["bare"].faces.get()
    url = reverse("detection:face_review", args=[face.pk])
    response = staff_client.post(url, {"mask_label": "with_mask", "person": str(logs["ann"].pk)})
    assert response.status_code == 302
    face.refresh_from_db()
    assert (face.mask_label, face.corrected_mask_label, face.review_state) == ("without_mask", "with_mask", "corrected")
    assert face.person is None and face.corrected_person == logs["ann"] and face.reviewed_by == staff_user
    assert face.effective_mask_label == "with_mask"
    # filters follow the reviewed values
    assert _ids(staff_client, mask="with_mask") == {logs["masked"].pk, logs["bare"].pk}
    assert _ids(staff_client, reviewed="reviewed") == {logs["bare"].pk}
    assert logs["bare"].pk not in _ids(staff_client, unknown="on")


def test_confirm_and_mark_unknown(staff_user, logs):
    face = logs["masked"].faces.get()
    review_face(face, user=staff_user, mask_label="with_mask", person=UNCHANGED)
    assert face.review_state == "confirmed" and face.corrected_person == logs["ann"]
    review_face(face, user=staff_user, mask_label=None, person=None)
    assert face.review_state == "corrected" and face.corrected_person is None


def test_bad_review_is_refused(staff_client, logs):
    face = logs["bare"].faces.get()
    url = reverse("detection:face_review", args=[face.pk])
    response = staff_client.post(url, {"mask_label": "helmet", "person": "keep"}, follow=True)
    assert b"Review not saved" in response.content
    staff_client.post(url, {"mask_label": "with_mask", "person": "999999"})
    face.refresh_from_db()
    assert face.review_state == "pending"


def test_mask_correction_adds_the_crop_to_the_training_pool(classifier, face_jpeg, staff_user):
    from training.models import TrainingImage

    log = analyse_and_log(face_jpeg, user=staff_user, source="upload")
    face = log.faces.get()
    other = "with_mask" if face.mask_label == "without_mask" else "without_mask"
    review_face(face, user=staff_user, mask_label=other)
    image = TrainingImage.objects.get(detected_face=face)
    assert image.label == other and image.source == "correction"


def test_retention_deletes_old_images_and_keeps_rows(classifier, face_jpeg, staff_user):
    old = analyse_and_log(face_jpeg, user=staff_user, source="upload")
    new = analyse_and_log(face_jpeg, user=staff_user, source="upload")
    DetectionLog.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    paths = [old.image.path, old.faces.get().crop.path]
    report = purge_old_images(30)
    assert (report.detection_images, report.face_crops, report.failed) == (1, 1, 0)
    old.refresh_from_db()
    assert not old.image and not old.faces.get().crop and old.face_count == 1
    assert not any(os.path.exists(p) for p in paths)
    new.refresh_from_db()
    assert new.image and new.faces.get().crop
    assert purge_old_images(0).deleted == 0 and purge_old_images(30).deleted == 0


def test_retention_and_recovery_are_scheduled():
    from django_celery_beat.models import PeriodicTask

    tasks = set(PeriodicTask.objects.values_list("task", flat=True))
    assert {"detection.tasks.purge_old_images", "detection.tasks.recover_stalled_batches"} <= tasks
