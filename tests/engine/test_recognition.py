"""Recognisers on real photos: a face matches rescaled and mirrored copies of itself, not another face."""

import cv2
import numpy as np
import pytest

from detection.engine.gallery import Gallery
from detection.engine.recognizers import create_recognizer


def largest(detector, image):
    faces = detector.detect(image)
    assert faces, "no face found"
    return max(faces, key=lambda d: d.width * d.height)


@pytest.fixture(scope="module", params=["sface", "dlib"])
def recognizer(request):
    return create_recognizer(request.param)


def variants(image):
    h, w = image.shape[:2]
    yield "half size", cv2.resize(image, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    yield "mirrored", np.ascontiguousarray(image[:, ::-1])
    yield "1.5x", cv2.resize(image, (w * 3 // 2, h * 3 // 2))


def test_same_face_matches_and_other_face_does_not(recognizer, yunet, astronaut, grace_hopper):
    ref = recognizer.embed(astronaut, largest(yunet, astronaut))
    assert ref.shape == (recognizer.dimension,) and ref.dtype == np.float32
    gallery = Gallery(
        ["astronaut"],
        ref[None],
        metric=recognizer.metric,
        threshold=recognizer.default_threshold,
        recognizer=recognizer.name,
    )
    for label, image in variants(astronaut):
        match = gallery.match(recognizer.embed(image, largest(yunet, image))[None])[0]
        assert match.identity == "astronaut", label
    other = gallery.match(recognizer.embed(grace_hopper, largest(yunet, grace_hopper))[None])[0]
    assert other.identity is None
    assert other.distance > recognizer.default_threshold


def test_embed_many_keeps_order(recognizer, yunet, astronaut, grace_hopper):
    a, g = largest(yunet, astronaut), largest(yunet, grace_hopper)
    both = np.vstack([recognizer.embed_many(astronaut, [a]), recognizer.embed_many(grace_hopper, [g])])
    assert recognizer.embed_many(astronaut, []).shape == (0, recognizer.dimension)
    np.testing.assert_allclose(recognizer.embed(astronaut, a), both[0], atol=1e-5)


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown recognizer"):
        create_recognizer("eigenfaces")


def test_sface_gives_opencvs_embeddings(sface, yunet, astronaut, grace_hopper):
    """Galleries stored by OpenCV's or onnxruntime's SFace stay valid under OpenVINO (bfloat16 where
    the CPU has it)."""
    from detection.engine.recognizers.sface import SFACE_MODEL

    net = cv2.FaceRecognizerSF.create(SFACE_MODEL, "")
    faces = [(img, largest(yunet, img)) for img in (astronaut, grace_hopper)]
    batch = sface.embed_many(astronaut, [faces[0][1], faces[0][1]])
    np.testing.assert_allclose(batch[0], batch[1], atol=1e-6)
    for image, det in faces:
        x1, y1, x2, y2 = det.box
        row = np.array([[x1, y1, x2 - x1, y2 - y1, *det.landmarks.reshape(-1), det.score]], dtype=np.float32)
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        expected = net.feature(net.alignCrop(bgr, row)).reshape(-1)
        expected /= np.linalg.norm(expected)
        assert float(sface.embed(image, det) @ expected) > 0.9999
