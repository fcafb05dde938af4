"""Stored original photos carry no EXIF (a GPS position, a device serial): the orientation is applied
to the pixels first, then the metadata is dropped."""

from __future__ import annotations

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image

from detection.models import DetectionLog, PlatformSettings
from tests.photos import encode, face_photo, in_frame


def _exif_with_gps() -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # shown rotated 90° clockwise
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.BodySerialNumber] = "SN-0042"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (52.0, 22.0, 30.0)
    return exif


def _stored(token_client, data: bytes) -> bytes:
    settings = PlatformSettings.current()
    settings.store_images = PlatformSettings.StoreImages.ORIGINAL
    settings.save()
    response = token_client.post(
        "/api/v1/analyze/", {"image": SimpleUploadedFile("phone.jpg", data), "mode": "fast"}, format="multipart"
    )
    assert response.status_code == 201, response.content
    log = DetectionLog.objects.get(pk=response.json()["log_id"])
    with log.image.open("rb") as handle:
        return handle.read()


def test_a_stored_original_has_no_exif_and_stands_upright(token_client):
    photo = in_frame(face_photo(), 640, 480)
    data = encode(photo, "JPEG", exif=_exif_with_gps().tobytes(), quality=95)
    assert b"SN-0042" in data
    stored = _stored(token_client, data)
    assert b"SN-0042" not in stored and b"PhoneMaker" not in stored
    with Image.open(io.BytesIO(stored)) as img:
        assert not img.getexif() and "exif" not in img.info
        assert img.size == (480, 640)  # the orientation was applied before the EXIF went


def test_a_photo_without_metadata_is_stored_byte_for_byte(token_client):
    data = encode(in_frame(face_photo(), 640, 480), "JPEG", quality=90)
    assert _stored(token_client, data) == data
