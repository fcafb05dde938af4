"""How the engine found each face (its close-up fallback) is kept with the face: stored on the row,
answered by the API, shown on the result page and exported in the CSV, so a reviewer can tell a
whole photo classified as one face from a detected one."""

from __future__ import annotations

import csv
import io

import cv2
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from detection.engine.pipeline import get_pipeline
from detection.models import DetectedFace, DetectionLog
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
