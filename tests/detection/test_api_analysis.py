"""REST API of photo analysis with token auth: analyze, detections with filters, batches, stats, schema."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from detection.models import BatchItem, BatchJob, DetectedFace, DetectionLog
from tests.detection.analysis_fixtures import make_zip
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _upload(data: bytes, name: str = "photo.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, "image/jpeg")


def test_analyze_returns_engine_schema_and_log_id(classifier, face_jpeg, token_client):
    response = token_client.post("/api/v1/analyze/", {"image": _upload(face_jpeg)}, format="multipart")
    assert response.status_code == 201, response.content
    body = response.json()
    assert {"log_id", "width", "height", "faces", "timings_ms", "stored"} <= set(body)
    assert (body["width"], body["height"], body["stored"]) == (640, 480, True)
    face = body["faces"][0]
    assert {"box", "score", "mask", "mask_score", "identity", "distance", "person", "face_id"} <= set(face)
    assert set(body["timings_ms"]) >= {"decode", "detect", "classify", "recognize", "total"}
    log = DetectionLog.objects.get(pk=body["log_id"])
    assert log.source == "api" and log.image and log.faces.get().pk == face["face_id"]


def test_analyze_store_false_keeps_nothing(classifier, face_jpeg, token_client):
    response = token_client.post(
        "/api/v1/analyze/", {"image": _upload(face_jpeg), "store": "false", "mode": "fast"}, format="multipart"
    )
    assert response.status_code == 201
    log = DetectionLog.objects.get(pk=response.json()["log_id"])
    assert not log.image and log.mode == "fast" and not response.json()["stored"]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"image": SimpleUploadedFile("x.jpg", b"garbage bytes")}, "not a recognised image"),
        ({"image": SimpleUploadedFile("x.jpg", b"")}, "empty"),
        ({}, "No file was submitted"),
        ({"image": SimpleUploadedFile("x.jpg", b"x"), "mode": "turbo"}, "not a valid choice"),
    ],
)
def test_analyze_bad_input_is_400(classifier, token_client, payload, reason):
    response = token_client.post("/api/v1/analyze/", payload, format="multipart")
    assert response.status_code == 400 and reason in response.content.decode()
    assert DetectionLog.objects.count() == 0


def test_analyze_needs_auth(api_client, face_jpeg):
    response = api_client.post("/api/v1/analyze/", {"image": _upload(face_jpeg)}, format="multipart")
    assert response.status_code == 401


def _log(source="upload", masked=True, person=None, **kwargs) -> DetectionLog:
    log = DetectionLog.objects.create(
        source=source, face_count=1, masked_count=int(masked), unmasked_count=int(not masked), **kwargs
    )
    DetectedFace.objects.create(
        log=log,
        x1=0,
        y1=0,
        x2=10,
        y2=10,
        score=0.9,
        person=person,
        mask_label="with_mask" if masked else "without_mask",
        mask_probability=0.9 if masked else 0.1,
    )
    return log


def test_detections_list_filters_and_detail(token_client):
    a, b = _log("upload", masked=True), _log("api", masked=False)
    response = token_client.get("/api/v1/detections/")
    assert response.status_code == 200 and response.json()["count"] == 2
    ids = [r["id"] for r in token_client.get("/api/v1/detections/?mask=without_mask").json()["results"]]
    assert ids == [b.pk]
    ids = [r["id"] for r in token_client.get("/api/v1/detections/?source=upload").json()["results"]]
    assert ids == [a.pk]
    assert token_client.get("/api/v1/detections/?date_from=2999-01-01").json()["count"] == 0
    assert token_client.get("/api/v1/detections/?source=nope").status_code == 400
    detail = token_client.get(f"/api/v1/detections/{a.pk}/").json()
    assert detail["faces"][0]["mask_label"] == "with_mask" and detail["image_stored"] is False


def test_batches_api_create_status_cancel_retry(classifier, face_jpeg, token_client, staff_user, monkeypatch):
    from detection.services import batches

    queued = []
    monkeypatch.setattr(batches, "enqueue", lambda batch, item_ids=None: queued.append(batch.pk))
    archive = make_zip({"a.jpg": face_jpeg, "b.txt": b"text", "../evil.jpg": face_jpeg})
    response = token_client.post(
        "/api/v1/batches/",
        {
            "files": [_upload(face_jpeg, "one.jpg"), SimpleUploadedFile("set.zip", archive, "application/zip")],
            "mode": "fast",
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["total"] == 4 and body["failed"] == 2 and body["status"] == "queued"
    reasons = {i["name"]: i["error"] for i in body["items"]}
    assert "not a recognised image" in reasons["set.zip/b.txt"] and "'..'" in reasons["set.zip/../evil.jpg"]
    status = token_client.get(f"/api/v1/batches/{body['id']}/").json()
    assert status["status"] == "queued" and len(status["items"]) == 4
    progress = token_client.get(f"/api/v1/batches/{body['id']}/progress/").json()
    assert (progress["total"], progress["failed"]) == (4, 2) and "items" not in progress
    assert token_client.post(f"/api/v1/batches/{body['id']}/retry/").status_code == 409  # still active
    assert token_client.post(f"/api/v1/batches/{body['id']}/cancel/").json()["status"] == "cancelled"
    assert token_client.post(f"/api/v1/batches/{body['id']}/cancel/").status_code == 409
    assert token_client.post(f"/api/v1/batches/{body['id']}/retry/").status_code == 200
    assert BatchJob.objects.get().status == "queued"
    assert BatchItem.objects.filter(status="pending").count() == 2


def test_batches_are_private_to_their_owner(token_client):
    other = BatchJob.objects.create(owner=UserFactory())
    assert token_client.get(f"/api/v1/batches/{other.pk}/").status_code == 404
    assert token_client.get("/api/v1/batches/").json()["count"] == 0


def test_batch_without_files_is_400(token_client):
    assert token_client.post("/api/v1/batches/", {}, format="multipart").status_code == 400


def test_stats(token_client):
    _log("upload", masked=True)
    _log("api", masked=False)
    body = token_client.get("/api/v1/stats/").json()
    assert body["today"]["faces"] == 2 and body["today"]["compliance"] == 0.5
    assert sum(h["faces"] for h in body["by_hour"]) == 2 and len(body["by_hour"]) == 24
    assert body["by_day"][-1]["faces"] == 2
    assert {r["source"] for r in body["by_source"]} == {"upload", "api"}
    assert len(body["recent_violations"]) == 1 and len(body["unknown_faces"]) == 2


def test_schema_lists_the_endpoints(admin_client):
    schema = admin_client.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    for path in ("/api/v1/analyze/", "/api/v1/detections/", "/api/v1/batches/", "/api/v1/stats/"):
        assert path in schema
    assert "AnalysisRequest" in schema or "AnalyzeRequest" in schema
