"""The enrolment service on real photos: what is stored, and every reason the quality gate refuses."""

from pathlib import Path

import numpy as np
import pytest

from detection.engine.enrolment import MASK_VARIANTS
from detection.models import FaceSample, Person
from detection.services.enrolment import GATE, EnrolmentRejected, QualityGate, enrol, prepare
from tests.detection import registry_photos
from tests.detection.registry_photos import blurred_face, jpeg, small_face, two_faces
from tests.photos import face_photo, masked_face_photo

pytestmark = pytest.mark.django_db
media = registry_photos.media  # fixture


@pytest.fixture
def person():
    return Person.objects.create(display_name="Eileen Collins")


def test_enrol_stores_photo_crop_embedding_and_masked_variants(person, media):
    sample = enrol(person, jpeg(face_photo()))
    assert not sample.synthetic_mask and sample.source == FaceSample.Source.UPLOAD
    embedding = np.frombuffer(bytes(sample.embedding), dtype="<f4")
    assert embedding.shape == (128,) and np.isfinite(embedding).all()
    assert sample.embedding_model == "sface"
    assert sample.quality["faces"] == 1 and sample.quality["face_px"] >= GATE.min_face_px
    assert Path(sample.image.path).is_file() and Path(sample.crop.path).is_file()
    variants = list(sample.variants.all())
    assert len(variants) == len(MASK_VARIANTS)
    assert all(v.synthetic_mask and v.person == person and Path(v.crop.path).is_file() for v in variants)
    assert {v.quality["mask_shape"] for v in variants} == {shape for shape, _ in MASK_VARIANTS}
    # a masked variant is a different vector, still the same person's face
    variant = np.frombuffer(bytes(variants[0].embedding), dtype="<f4")
    assert 0.0 < 1.0 - float(embedding @ variant) < 0.5


def test_variants_can_be_left_out(person, media):
    sample = enrol(person, jpeg(face_photo()), mask_variants=False)
    assert sample.variants.count() == 0


def rejection(person, data, **kwargs) -> EnrolmentRejected:
    with pytest.raises(EnrolmentRejected) as info:
        enrol(person, data, **kwargs)
    assert FaceSample.objects.filter(person=person).count() == 0 or info.value.code == "duplicate"
    return info.value


def test_not_an_image(person, media):
    exc = rejection(person, b"this is not a photo")
    assert exc.code == "not_an_image" and "not a recognised image" in exc.message


def test_no_face(person, media):
    exc = rejection(person, jpeg(np.full((300, 300, 3), 127, np.uint8)))
    assert exc.code == "no_face" and "No face" in exc.message


def test_several_faces_unless_the_admin_confirms_the_largest(person, media):
    exc = rejection(person, jpeg(two_faces()))
    assert exc.code == "several_faces" and "2 faces" in exc.message
    sample = enrol(person, jpeg(two_faces()), allow_largest=True)
    assert sample.quality["faces"] == 2
    assert sample.quality["box"][2] < 520  # the astronaut (left), not Grace Hopper


def test_face_too_small(person, media):
    exc = rejection(person, jpeg(small_face()))
    assert exc.code == "face_too_small" and f"at least {GATE.min_face_px} px" in exc.message


def test_blurred_face(person, media):
    exc = rejection(person, jpeg(blurred_face()))
    assert exc.code == "blurry" and "blurred" in exc.message


def test_low_detection_score():
    # A real photo's score is ~1.0; a gate asking for more shows the reason and its figures.
    with pytest.raises(EnrolmentRejected) as info:
        prepare(masked_face_photo(), gate=QualityGate(min_score=0.99999))
    assert info.value.code == "low_score" and "detection score" in info.value.message


def test_near_duplicate_of_an_existing_sample(person, media):
    first = enrol(person, jpeg(face_photo()))
    exc = rejection(person, jpeg(face_photo()[:, ::-1].copy()))  # the same photo, mirrored
    assert exc.code == "duplicate" and f"#{first.pk}" in exc.message
    assert FaceSample.objects.filter(person=person, synthetic_mask=False).count() == 1


def test_a_rejected_photo_leaves_no_file(person, media):
    rejection(person, jpeg(blurred_face()))
    assert not any(p.is_file() for p in Path(media).rglob("*")) if Path(media).exists() else True
