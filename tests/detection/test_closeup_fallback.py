"""How the engine found each face (its close-up fallback) is kept with the face: stored on the row,
answered by the API, shown on the result page and exported in the CSV, so a reviewer can tell a
whole photo classified as one face from a detected one."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from django.contrib.staticfiles import finders
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from detection.engine.pipeline import get_pipeline
from detection.models import DetectedFace, DetectionLog, Person
from detection.services.review import review_face
from maskportal import realtime
from tests.photos import encode, face_photo

pytestmark = pytest.mark.django_db

WHOLE_IMAGE_NOTE = "Whole image classified"


@pytest.fixture(scope="module")
def flat_png() -> bytes:
    """A small flat photo: no face to find, but small enough to be a face crop, so it is classified whole."""
    return encode(np.full((120, 120, 3), 128, np.uint8), "PNG")


@pytest.fixture(scope="module")
def closeup_png() -> bytes:
    """The astronaut's face cut tighter than the detector's box and enlarged to fill the frame: the
    detector finds it only in the photo framed with a border."""
    image = face_photo()
    [face] = get_pipeline("accurate").analyze(image).faces
    x1, y1, x2, y2 = face.detection.box
    w, h = x2 - x1, y2 - y1
    inner = image[int(y1 + 0.2 * h) : int(y2 - 0.2 * h), int(x1 + 0.2 * w) : int(x2 - 0.2 * w)]
    return encode(cv2.resize(inner, (300, 300), interpolation=cv2.INTER_CUBIC), "PNG")


@pytest.mark.parametrize(
    ("photo", "fallback"), [("flat_png", "whole_image"), ("closeup_png", "padded"), ("face_jpeg", "")]
)
def test_the_api_stores_and_returns_how_each_face_was_found(classifier, token_client, request, photo, fallback):
    upload = SimpleUploadedFile(photo.replace("_", "."), request.getfixturevalue(photo))  # flat.png, face.jpeg…
    response = token_client.post("/api/v1/analyze/", {"image": upload, "mode": "accurate"}, format="multipart")
    assert response.status_code == 201, response.content
    [face] = response.json()["faces"]
    assert face["fallback"] == (fallback or None)
    assert DetectedFace.objects.get(pk=face["face_id"]).fallback == fallback
    detail = token_client.get(f"/api/v1/detections/{response.json()['log_id']}/").json()
    assert [f["fallback"] for f in detail["faces"]] == [fallback or None]


def test_the_result_page_and_csv_flag_a_whole_image_classification(classifier, staff_client, flat_png, face_jpeg):
    for name, data in (("crop.png", flat_png), ("scene.jpg", face_jpeg)):
        response = staff_client.post(
            reverse("detection:upload"), {"files": SimpleUploadedFile(name, data), "mode": "accurate"}
        )
        assert response.status_code == 302
    whole, detected = (DetectionLog.objects.get(original_name=name) for name in ("crop.png", "scene.jpg"))
    assert whole.faces.get().fallback == DetectedFace.Fallback.WHOLE_IMAGE
    assert detected.faces.get().fallback == DetectedFace.Fallback.DETECTED
    page = staff_client.get(reverse("detection:log_detail", args=[whole.pk])).content.decode()
    assert WHOLE_IMAGE_NOTE in page and 'data-fallback="whole_image"' in page
    assert "data-fallback" not in staff_client.get(reverse("detection:log_detail", args=[detected.pk])).content.decode()
    export = b"".join(staff_client.get(reverse("detection:log_export")).streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(export)))
    assert {r["file"]: r["fallback"] for r in rows} == {"crop.png": "whole_image", "scene.jpg": ""}


# --- the result page's boxes, the subject access export and the dashboard message ------------------------


def _upload(client, name: str, data: bytes) -> DetectionLog:
    response = client.post(reverse("detection:upload"), {"files": SimpleUploadedFile(name, data), "mode": "accurate"})
    assert response.status_code == 302
    return DetectionLog.objects.get(original_name=name)


def _face_data(page: str) -> dict:
    """The `face-data` JSON the result page's script draws its boxes from."""
    [data] = re.findall(r'<script id="face-data" type="application/json">(.*?)</script>', page, re.S)
    return json.loads(data)


def test_the_boxes_drawn_over_the_photo_mark_a_whole_image_classification(
    classifier, staff_client, flat_png, face_jpeg
):
    whole, detected = _upload(staff_client, "crop.png", flat_png), _upload(staff_client, "scene.jpg", face_jpeg)
    [face] = _face_data(staff_client.get(reverse("detection:log_detail", args=[whole.pk])).content.decode())["faces"]
    assert face["fallback"] == "whole_image" and face["fallback_label"] == DetectedFace.Fallback.WHOLE_IMAGE.label
    assert face["box"] == [0.0, 0.0, 120.0, 120.0]  # the box is the photo: result.js draws it dashed
    [other] = _face_data(staff_client.get(reverse("detection:log_detail", args=[detected.pk])).content.decode())[
        "faces"
    ]
    assert other["fallback"] is None and other["fallback_label"] is None
    # a saved review answers the page's script with the faces to redraw: the marking stays
    answer = staff_client.post(
        reverse("detection:log_review", args=[whole.pk]), {"all_correct": "on"}, HTTP_ACCEPT="application/json"
    ).json()
    assert [f["fallback"] for f in answer["faces"]] == ["whole_image"]
    # result.js gives such a box the stylesheet's class (CSP: no style attributes) and names it in its label
    css = Path(finders.find("css/maskportal.css")).read_text()
    assert re.search(r"\.face-box-whole_image\s*\{[^}]*border-style:\s*dashed", css)
    script = Path(finders.find("js/result.js")).read_text()
    assert "face-box-${face.fallback}" in script and WHOLE_IMAGE_NOTE.lower() in script


def test_the_subject_access_export_says_how_each_face_was_found(
    classifier, admin_client, admin_user, flat_png, face_jpeg
):
    person = Person.objects.create(display_name="Ada Lovelace")
    for name, data in (("crop.png", flat_png), ("scene.jpg", face_jpeg)):
        log = _upload(admin_client, name, data)
        review_face(log.faces.get(), user=admin_user, person=person)  # a reviewer names the face
    response = admin_client.get(reverse("detection:person_export", args=[person.pk]))
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    detections = json.loads(archive.read("detections.json"))
    names = dict(DetectionLog.objects.values_list("pk", "original_name"))
    assert {names[d["detection"]]: d["fallback"] for d in detections} == {
        "crop.png": DetectedFace.Fallback.WHOLE_IMAGE.label,
        "scene.jpg": DetectedFace.Fallback.DETECTED.label,
    }


def test_the_dashboard_detection_message_carries_the_fallback(
    classifier, staff_client, flat_png, face_jpeg, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr(realtime, "publish", lambda group, msg, **kw: sent.append((group, msg)))
    with django_capture_on_commit_callbacks(execute=True):
        whole, detected = _upload(staff_client, "crop.png", flat_png), _upload(staff_client, "scene.jpg", face_jpeg)
    messages = {
        msg["log_id"]: msg for group, msg in sent if group == realtime.DASHBOARD_GROUP and msg["type"] == "detection"
    }
    assert [f["fallback"] for f in messages[whole.pk]["faces"]] == ["whole_image"]
    assert [f["fallback"] for f in messages[detected.pk]["faces"]] == [None]
    json.dumps(messages[whole.pk])  # what the socket sends
