"""analyse_and_log and the single-upload flow: rows, stored files, identities, atomicity, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from django.conf import settings
from django.urls import reverse

from detection.engine.imageio import ImageDecodeError
from detection.models import DetectedFace, DetectionLog, FaceSample, MaskLabel, PlatformSettings
from detection.services.analysis import analyse_and_log
from detection.services.detection_messages import detection_message
from detection.services.stored_images import files_rolled_back
from tests.detection.analysis_fixtures import media_files
from tests.factories import PersonFactory
from tests.photos import encode, face_photo, in_frame

pytestmark = pytest.mark.django_db


def test_logs_one_face_with_crop_counts_and_model_version(classifier, face_jpeg, staff_user):
    log = analyse_and_log(face_jpeg, user=staff_user, source="upload", original_name="astronaut.jpg")
    log.refresh_from_db()
    assert (log.face_count, log.image_width, log.image_height) == (1, 640, 480)
    assert log.masked_count + log.unmasked_count == 1 and log.unknown_count == 1
    assert log.model_version and log.mode == settings.ENGINE_UPLOAD_MODE and log.user == staff_user
    assert {"decode", "detect", "classify", "total", "store"} <= set(log.timings_ms)
    assert log.image.name.endswith(".jpg")
    with log.image.open("rb") as handle:
        assert handle.read() == face_jpeg  # a small JPEG is kept as uploaded (downscaled setting)
    face = log.faces.get()
    assert face.crop and face.x2 > face.x1 and 0.0 <= face.mask_probability <= 1.0
    assert face.mask_label in MaskLabel.values
    assert log.analysis.to_dict()["faces"][0]["mask"] == face.mask_label


def test_masked_and_unmasked_labels(real_classifier, face_jpeg, masked_jpeg, staff_user):
    assert analyse_and_log(face_jpeg, user=staff_user, source="upload").unmasked_count == 1
    assert analyse_and_log(masked_jpeg, user=staff_user, source="upload").masked_count == 1


def test_store_none_keeps_no_image_and_no_crop(classifier, face_jpeg, staff_user):
    log = analyse_and_log(face_jpeg, user=staff_user, source="api", store=False)
    assert not log.image and log.face_count == 1 and not log.faces.get().crop


def test_store_original_keeps_png_bytes_and_downscaled_shrinks(classifier, staff_user):
    png = encode(in_frame(face_photo(), 640, 480), "PNG")
    log = analyse_and_log(png, user=staff_user, source="upload", store="original")
    assert log.image.name.endswith(".png")
    big = encode(np.kron(face_photo(), np.ones((4, 4, 1), dtype=np.uint8)), "JPEG")  # 2048x2048
    log = analyse_and_log(big, user=staff_user, source="upload", store="downscaled")
    from PIL import Image

    with log.image.open("rb") as handle, Image.open(handle) as img:
        assert max(img.size) == 1280
    assert (log.image_width, log.image_height) == (2048, 2048)


def test_identity_maps_to_person(classifier, face_jpeg, staff_user):
    from detection.services.engine import pipeline
    from detection.services.gallery import registry_changed

    engine = pipeline()
    person = PersonFactory(display_name="Eileen Collins")
    embedding = engine.embed(face_photo())
    FaceSample.objects.create(
        person=person, embedding=embedding.astype("<f4").tobytes(), embedding_model=engine.config.recognizer
    )
    registry_changed()
    from detection.services.engine import sync

    sync(engine, force=True)
    log = analyse_and_log(face_jpeg, user=staff_user, source="upload")
    assert log.faces.get().person == person and log.unknown_count == 0
    assert log.analysis.faces[0].identity == str(person.pk)


def test_bad_bytes_raise_and_write_nothing(classifier, staff_user):
    before = media_files()
    for data in (b"", b"not an image", encode(face_photo(), "JPEG")[:2000]):
        with pytest.raises(ImageDecodeError):
            analyse_and_log(data, user=staff_user, source="upload")
    assert DetectionLog.objects.count() == 0 and media_files() == before


def test_failure_while_writing_rows_leaves_no_file_or_row(classifier, face_jpeg, staff_user, monkeypatch):
    before = media_files()

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(DetectedFace.objects, "bulk_create", broken)
    with pytest.raises(RuntimeError):
        analyse_and_log(face_jpeg, user=staff_user, source="upload")
    assert DetectionLog.objects.count() == 0 and media_files() == before


def test_outer_block_failure_deletes_files_too(classifier, face_jpeg, staff_user):
    from django.db import transaction

    before = media_files()
    with pytest.raises(ValueError), files_rolled_back(), transaction.atomic():
        analyse_and_log(face_jpeg, user=staff_user, source="batch")
        raise ValueError("the caller's own write failed")
    assert DetectionLog.objects.count() == 0 and media_files() == before


def test_publishes_detection_event_on_commit(
    classifier, face_jpeg, staff_user, django_capture_on_commit_callbacks, monkeypatch
):
    from maskportal import realtime

    sent = []
    monkeypatch.setattr(realtime, "publish", lambda group, msg: sent.append((group, msg)))
    with django_capture_on_commit_callbacks(execute=True):
        log = analyse_and_log(face_jpeg, user=staff_user, source="upload")
    assert sent and sent[0][0] == realtime.DASHBOARD_GROUP
    msg = sent[0][1]
    assert msg["type"] == "detection" and msg["log_id"] == log.pk and msg["counts"]["faces"] == 1
    json.dumps(msg)
    assert detection_message(DetectionLog.objects.get(pk=log.pk))["faces"][0]["id"] == log.faces.get().pk


# --- pages --------------------------------------------------------------------------------------
def test_single_upload_shows_result_page_with_annotated_image(classifier, face_jpeg, staff_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = staff_client.post(
        reverse("detection:upload"),
        {
            "files": SimpleUploadedFile("me.jpg", face_jpeg, "image/jpeg"),
            "mode": "accurate",
            "recognize": "on",
        },
    )
    log = DetectionLog.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("detection:log_detail", args=[log.pk])
    page = staff_client.get(response["Location"])
    assert page.status_code == 200
    assert reverse("detection:log_image", args=[log.pk]).encode() in page.content
    assert b"detect" in page.content and b"me.jpg" in page.content
    image = staff_client.get(reverse("detection:log_image", args=[log.pk]))
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    from detection.engine.imageio import decode_image

    annotated = decode_image(image.content)
    assert annotated.shape == (480, 640, 3) and not np.array_equal(annotated, decode_image(face_jpeg))
    crop = staff_client.get(reverse("detection:face_crop", args=[log.faces.get().pk]))
    assert crop.status_code == 200 and crop.content[:3] == b"\xff\xd8\xff"


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.jpg", b"", b"empty"),
        ("notes.txt", b"hello, not a photo", b"not a recognised image"),
        ("cut.jpg", None, b"truncated"),
    ],
)
def test_single_upload_bad_input_gets_400_with_reason(classifier, staff_client, name, data, reason):
    from django.core.files.uploadedfile import SimpleUploadedFile

    if data is None:
        data = encode(face_photo(), "JPEG")[:3000]
    response = staff_client.post(reverse("detection:upload"), {"files": SimpleUploadedFile(name, data), "mode": "fast"})
    assert response.status_code == 400 and reason in response.content
    assert DetectionLog.objects.count() == 0


def test_oversize_and_bomb_are_refused(classifier, staff_client, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MAX_UPLOAD_BYTES = 1000
    response = staff_client.post(
        reverse("detection:upload"),
        {"files": SimpleUploadedFile("big.jpg", encode(face_photo(), "JPEG")), "mode": "fast"},
    )
    assert response.status_code == 400 and b"too large" in response.content
    settings.MAX_UPLOAD_BYTES = 20 * 1024 * 1024
    bomb = encode(np.zeros((8000, 8000, 3), dtype=np.uint8), "PNG")  # 64 MP of zeros compress to ~200 kB
    response = staff_client.post(
        reverse("detection:upload"), {"files": SimpleUploadedFile("bomb.png", bomb), "mode": "fast"}
    )
    assert response.status_code == 400 and b"too large" in response.content
    assert DetectionLog.objects.count() == 0


def test_upload_without_files_is_refused(staff_client):
    response = staff_client.post(reverse("detection:upload"), {"mode": "fast"})
    assert response.status_code == 400 and b"Choose at least one" in response.content


def test_store_setting_none_is_respected(classifier, face_jpeg, staff_user):
    PlatformSettings.objects.update_or_create(pk=1, defaults={"store_images": "none"})
    assert not analyse_and_log(face_jpeg, user=staff_user, source="upload").image
