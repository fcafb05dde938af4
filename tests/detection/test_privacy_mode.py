"""Privacy modes of stored detection images, on a real photo of a registered person and a bystander.

The stored image is compared with the analysed one pixel by pixel: inside the bystander's box the
detail is gone, outside every face (and on the registered person) it is the photo as analysed.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from detection.engine.crops import crop_face
from detection.engine.imageio import decode_image
from detection.engine.redact import PAD, padded, redact
from detection.models import DetectionLog, PlatformSettings, PrivacyMode
from detection.services.analysis import analyse_and_log, forget_recent
from detection.services.engine_threads import analyse
from detection.services.enrolment import enrol
from detection.services.gallery import registry_changed
from detection.services.stored_images import CROP_SIDE
from tests.detection import registry_photos
from tests.detection.registry_photos import jpeg, two_faces
from tests.factories import PersonFactory
from tests.photos import face_photo

pytestmark = pytest.mark.django_db

#: Mean absolute difference one JPEG re-encode leaves on a detailed region (hidden faces differ far more).
JPEG_NOISE = 4
media = registry_photos.media  # fixture


@pytest.fixture
def eileen(media, classifier):
    """The astronaut registered; in two_faces() Grace Hopper stays an unregistered bystander."""
    person = PersonFactory(display_name="Eileen Collins")
    enrol(person, jpeg(face_photo()))
    registry_changed()
    return person


def use(mode: str, *, store: str = PlatformSettings.StoreImages.ORIGINAL, source_field: str = "privacy_uploads"):
    row = PlatformSettings.current()
    row.store_images = store
    setattr(row, source_field, mode)
    row.save()
    forget_recent()


def stored(log: DetectionLog) -> np.ndarray:
    with log.image.open("rb") as handle:
        return decode_image(handle.read())


def detail_kept(stored_region: np.ndarray, original_region: np.ndarray) -> float:
    """Correlation of the fine detail (what identifies a face) of two regions: about 1 when the
    stored region is the original, about 0 when its detail was destroyed (blur or pixelation)."""

    def fine(region: np.ndarray) -> np.ndarray:
        grey = cv2.cvtColor(np.ascontiguousarray(region, dtype=np.uint8), cv2.COLOR_RGB2GRAY).astype(np.float32)
        return (grey - cv2.GaussianBlur(grey, (0, 0), 2)).ravel()

    return float(np.corrcoef(fine(stored_region), fine(original_region))[0, 1])


def region(image: np.ndarray, box, pad: float = 0.0) -> np.ndarray:
    x1, y1, x2, y2 = padded(box, image.shape[1], image.shape[0], pad)
    return image[y1:y2, x1:x2].astype(np.int16)


def outside(image: np.ndarray, boxes, pad: float) -> np.ndarray:
    """Mask of the pixels outside every box grown by `pad`."""
    keep = np.ones(image.shape[:2], bool)
    for box in boxes:
        x1, y1, x2, y2 = padded(box, image.shape[1], image.shape[0], pad)
        keep[y1:y2, x1:x2] = False
    return keep


def faces_by_name(log: DetectionLog) -> tuple[list[float], list[float]]:
    known = log.faces.get(person__isnull=False)
    unknown = log.faces.get(person__isnull=True)
    return known.box, unknown.box


@pytest.mark.parametrize("mode", [PrivacyMode.BLUR, PrivacyMode.PIXELATE])
def test_stored_image_hides_every_unrecognised_face_and_nothing_else(eileen, mode):
    use(mode)
    upload = jpeg(two_faces())
    photo = decode_image(upload)  # what the engine analysed
    log = analyse_and_log(upload, source=DetectionLog.Source.UPLOAD)
    assert log.face_count == 2 and log.unknown_count == 1
    known, bystander = faces_by_name(log)
    kept = stored(log)
    assert kept.shape == photo.shape
    # the bystander's face: its detail is gone; the registered person's is kept
    assert detail_kept(region(kept, bystander), region(photo, bystander)) < 0.2
    assert detail_kept(region(kept, known), region(photo, known)) > 0.8
    # the registered person and everything outside the faces: the photo as analysed (JPEG noise only)
    assert np.abs(region(kept, known) - region(photo, known)).mean() < JPEG_NOISE
    away = outside(photo, [bystander], pad=PAD + 0.35)  # the hidden region is the padded box
    assert np.abs(kept.astype(np.int16) - photo.astype(np.int16))[away].mean() < JPEG_NOISE
    # the bystander's stored face crop is hidden too (its centre is the face)
    with log.faces.get(person__isnull=True).crop.open("rb") as handle:
        crop = decode_image(handle.read())
    plain_crop = crop_face(photo, bystander, CROP_SIDE)
    centre = slice(CROP_SIDE // 4, 3 * CROP_SIDE // 4)
    assert detail_kept(crop[centre, centre], plain_crop[centre, centre]) < 0.2


def test_whole_mode_keeps_the_photo_as_it_was(eileen):
    use(PrivacyMode.WHOLE)
    data = jpeg(two_faces())
    log = analyse_and_log(data, source=DetectionLog.Source.UPLOAD)
    with log.image.open("rb") as handle:
        assert handle.read() == data  # the original file, untouched


def test_violations_mode_keeps_only_crops_of_faces_without_a_mask(eileen):
    use(PrivacyMode.VIOLATIONS)
    log = analyse_and_log(jpeg(two_faces()), source=DetectionLog.Source.UPLOAD)
    assert not log.image
    for face in log.faces.all():
        assert bool(face.crop) == (face.mask_label == "without_mask"), face.mask_label


def test_nothing_mode_stores_no_image_and_the_analysis_is_the_same_in_every_mode(eileen):
    results = {}
    for mode in (PrivacyMode.WHOLE, PrivacyMode.BLUR, PrivacyMode.NOTHING):
        use(mode)
        log = analyse_and_log(jpeg(two_faces()), source=DetectionLog.Source.UPLOAD)
        results[mode] = log.analysis.to_dict()["faces"]  # what the live overlay and API show
        if mode == PrivacyMode.NOTHING:
            assert not log.image and not any(f.crop for f in log.faces.all())
    assert results[PrivacyMode.WHOLE] == results[PrivacyMode.BLUR] == results[PrivacyMode.NOTHING]


def test_the_mode_is_per_source(eileen):
    use(PrivacyMode.BLUR)  # uploads blurred, batches keep the whole image
    upload = jpeg(two_faces())
    photo = decode_image(upload)
    batch_log = analyse_and_log(upload, source=DetectionLog.Source.BATCH)
    _, bystander = faces_by_name(batch_log)
    kept = stored(batch_log)
    assert detail_kept(region(kept, bystander), region(photo, bystander)) > 0.8


def test_camera_events_hide_bystanders_the_tracked_face_does_not_list(eileen):
    """A live event logs one tracked face, but its snapshot may show others: they are found and hidden."""
    use(PrivacyMode.BLUR, source_field="privacy_cameras")
    photo = two_faces()
    _, _, full = analyse(photo)
    tracked = next(f for f in full.faces if f.identity)  # only the registered person's track
    full.faces = [tracked]
    log = analyse_and_log(photo, source=DetectionLog.Source.CAMERA, analysis=full)
    assert log.face_count == 1
    bystander = max((f for f in analyse(photo)[2].faces if not f.identity), key=lambda f: f.box[2] - f.box[0])
    kept = stored(log)
    assert detail_kept(region(kept, bystander.box), region(photo, bystander.box)) < 0.2
    assert np.abs(region(kept, tracked.box) - region(photo, tracked.box)).mean() < JPEG_NOISE


def test_redact_changes_only_the_padded_boxes():
    image = face_photo()
    box = (100.0, 120.0, 220.0, 260.0)
    for method in ("blur", "pixelate"):
        out = redact(image, [box], method)
        x1, y1, x2, y2 = padded(box, image.shape[1], image.shape[0])
        keep = np.ones(image.shape[:2], bool)
        keep[y1:y2, x1:x2] = False
        assert np.array_equal(out[keep], image[keep])
        assert detail_kept(out[y1:y2, x1:x2], image[y1:y2, x1:x2]) < 0.2
    with pytest.raises(ValueError, match="unknown redaction"):
        redact(image, [box], "paint")
