"""Detectors on a real photo: faces found, boxes and landmarks in original pixels."""

import numpy as np
import pytest

from detection.engine.detectors import DetectorConfig, create_detector


@pytest.mark.parametrize("backend", ["yunet", "retinaface", "centerface"])
def test_both_backends_find_the_astronaut_with_landmarks_inside_the_box(astronaut, backend):
    from detection.engine.detectors import DetectorConfig, create_detector

    faces = create_detector(DetectorConfig(backend=backend)).detect(astronaut)
    assert len(faces) == 1
    x1, y1, x2, y2 = faces[0].box
    assert 160 < x1 < 200 and 40 < y1 < 90 and 250 < x2 < 290 and 160 < y2 < 200
    assert faces[0].score > 0.8
    lm = faces[0].landmarks
    assert lm.shape == (5, 2)
    assert np.all((lm[:, 0] > x1) & (lm[:, 0] < x2) & (lm[:, 1] > y1) & (lm[:, 1] < y2))
    assert lm[0, 0] < lm[1, 0]  # eye on the image's left first
    assert lm[2, 1] > lm[0, 1] and lm[3, 1] > lm[2, 1]  # nose below the eyes, mouth below the nose


@pytest.mark.parametrize("backend", ["yunet", "retinaface", "centerface"])
def test_boxes_are_in_original_pixels_whatever_the_input_scale(astronaut, backend):
    small = create_detector(DetectorConfig(backend=backend, input_scale=1.0)).detect(astronaut)[0]
    big = create_detector(DetectorConfig(backend=backend, input_scale=2.0)).detect(astronaut)[0]
    np.testing.assert_allclose(small.box, big.box, atol=12)
    np.testing.assert_allclose(small.landmarks, big.landmarks, atol=6)


def test_pixel_budget_shrinks_big_images():
    detector = create_detector(DetectorConfig(backend="yunet", input_scale=2.0, max_input_pixels=100_000))
    assert detector.scale_for(100, 100) == 2.0
    assert detector.scale_for(1000, 1000) == pytest.approx(0.316, abs=1e-3)


def test_no_face_in_a_face_free_photo(yunet):
    from skimage import data

    assert yunet.detect(np.ascontiguousarray(data.coffee())) == []


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((10, 10), np.uint8),
        np.zeros((10, 10, 4), np.uint8),
        np.zeros((10, 10, 3), np.float32),
        np.zeros((0, 10, 3), np.uint8),
        "not an array",
    ],
)
def test_bad_arrays_are_rejected(yunet, bad):
    with pytest.raises(ValueError):
        yunet.detect(bad)


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown detector"):
        create_detector(DetectorConfig(backend="nope"))


def test_yunet_on_onnxruntime_finds_what_opencvs_face_detector_finds(astronaut, grace_hopper):
    """Same faces as cv2.FaceDetectorYN (padding, decoding and NMS), on odd sizes that need padding."""
    import cv2

    from detection.engine.detectors.yunet import YUNET_MODEL

    config = DetectorConfig(backend="yunet", score_threshold=0.3)
    ours = create_detector(config)
    crowd = np.concatenate([astronaut[:, :500], grace_hopper[:512, :500][:, ::-1]], axis=1)  # 512 x 1000
    for image in (astronaut, grace_hopper[:301, :333], cv2.resize(crowd, None, fx=0.61, fy=0.61)):
        h, w = image.shape[:2]
        reference = cv2.FaceDetectorYN.create(
            YUNET_MODEL, "", (w, h), config.score_threshold, config.nms_threshold, 5000
        )
        _, expected = reference.detect(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        expected = expected[np.argsort(-expected[:, 14])]
        boxes, scores, landmarks = ours._detect(image)
        order = np.argsort(-scores)
        assert len(order) == len(expected) >= 1
        np.testing.assert_allclose(boxes[order, :2], expected[:, :2], atol=0.01)
        np.testing.assert_allclose(boxes[order, 2:] - boxes[order, :2], expected[:, 2:4], atol=0.01)
        np.testing.assert_allclose(landmarks[order], expected[:, 4:14], atol=0.01)
        np.testing.assert_allclose(scores[order], expected[:, 14], atol=1e-4)


@pytest.mark.parametrize("mean", [None, np.array([104.0, 117.0, 123.0], dtype=np.float32)])
def test_blob_is_the_padded_bgr_planes_minus_the_mean(mean):
    from detection.engine.detectors.base import padded_bgr_blob

    image = np.random.default_rng(0).integers(0, 256, (37, 50, 3), dtype=np.uint8)
    blob = padded_bgr_blob(image, 32, mean)
    assert blob.shape == (1, 3, 64, 64) and blob.dtype == np.float32
    expected = image[:, :, ::-1].astype(np.float32) - (0 if mean is None else mean)
    np.testing.assert_array_equal(blob[0, :, :37, :50], expected.transpose(2, 0, 1))
    assert not blob[0, :, 37:, :].any() and not blob[0, :, :, 50:].any()
