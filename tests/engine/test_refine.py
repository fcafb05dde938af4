"""Accurate-mode refinements: confirmation by a second detector, landmark box regression, CenterFace decoding."""

import numpy as np
import pytest

from detection.engine.detectors.centerface import decode
from detection.engine.pipeline import Pipeline, PipelineConfig
from detection.engine.refine import (
    RETINAFACE_BOX_REGRESSION,
    ConfirmConfig,
    box_iou,
    confirm,
    landmark_box,
    needs_confirmation,
)
from detection.engine.types import Detection

POINTS = np.array([[30, 40], [70, 40], [50, 60], [35, 80], [65, 80]], dtype=np.float32)


def face(box, score, points=POINTS):
    return Detection(box=box, score=score, landmarks=points)


def test_confident_faces_are_kept_untouched_and_need_no_second_opinion():
    config = ConfirmConfig()
    sure = face((10, 20, 90, 120), 0.99)
    assert not needs_confirmation([sure], config)
    assert confirm([sure], [], config) == [sure]


def test_uncertain_face_is_kept_only_when_the_second_detector_agrees():
    config = ConfirmConfig()
    unsure = face((10, 20, 90, 120), 0.7)
    assert needs_confirmation([unsure], config)
    assert confirm([unsure], [], config) == []
    [kept] = confirm([unsure], [face((12, 22, 92, 118), 0.9)], config)
    assert kept.box == unsure.box and kept.score != unsure.score and kept.score >= config.threshold
    # a second opinion elsewhere in the image does not count
    assert confirm([unsure], [face((200, 200, 280, 300), 0.9)], config) == []


def test_box_iou():
    np.testing.assert_allclose(
        box_iou((0, 0, 10, 10), np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])), [1, 1 / 3, 0]
    )
    assert box_iou((0, 0, 1, 1), np.zeros((0, 4))).shape == (0,)


def test_landmark_box_moves_the_box_down_and_stays_in_the_image():
    det = face((10, 20, 90, 120), 0.99, POINTS + (10, 20))
    x1, y1, x2, y2 = landmark_box(det, RETINAFACE_BOX_REGRESSION, 200, 200)
    assert (y1 + y2) / 2 > 70  # annotated boxes sit lower than detector boxes
    assert 0 <= x1 < x2 <= 200 and 0 <= y1 < y2 <= 200
    assert landmark_box(det, RETINAFACE_BOX_REGRESSION, 95, 110)[3] <= 110


def test_centerface_decode_by_hand():
    heat = np.zeros((1, 4, 4), np.float32)
    heat[0, 1, 2] = 0.9
    scale = np.zeros((2, 4, 4), np.float32)
    scale[:, 1, 2] = np.log(2.0)  # height = width = 2 * stride = 8
    offset = np.zeros((2, 4, 4), np.float32)
    offset[1, 1, 2] = 0.5  # x offset half a cell
    marks = np.zeros((10, 4, 4), np.float32)
    marks[0::2, 1, 2] = 0.25  # every point a quarter of the height down
    marks[1::2, 1, 2] = 0.5  # and half of the width across
    boxes, scores, points = decode(heat, scale, offset, marks, 0.5)
    # centre x = (2 + 0.5 + 0.5) * 4 = 12, centre y = (1 + 0 + 0.5) * 4 = 6
    np.testing.assert_allclose(boxes, [[8, 2, 16, 10]])
    np.testing.assert_allclose(scores, [0.9])
    np.testing.assert_allclose(points.reshape(5, 2), [[12, 4]] * 5)
    assert len(decode(heat, scale, offset, marks, 0.95)[0]) == 0


@pytest.fixture(scope="module")
def accurate(tiny_model_factory):
    return Pipeline(PipelineConfig.preset("accurate", classifier_path=tiny_model_factory(size=32)))


def test_accurate_mode_reports_the_regressed_box(accurate, astronaut):
    [result] = accurate.analyze(astronaut).faces
    assert result.box == landmark_box(result.detection, RETINAFACE_BOX_REGRESSION, 512, 512)
    assert accurate.confirmer is not None


def test_uncertain_faces_are_confirmed_in_the_pipeline(accurate, astronaut):
    # a shrunken, blurred copy makes RetinaFace unsure; CenterFace is consulted and the face survives
    import cv2

    small = cv2.GaussianBlur(cv2.resize(astronaut, (96, 96), interpolation=cv2.INTER_AREA), (3, 3), 0)
    raw = accurate.detector.detect(small)
    confirmed = accurate.detect(small)
    assert {d.box for d in confirmed} <= {d.box for d in raw}
    assert all(d.score >= accurate.config.confirm.threshold for d in confirmed)
