"""Accurate-mode geometry: landmark box regression, IoU, CenterFace decoding."""

import numpy as np

from detection.engine.detectors.centerface import decode
from detection.engine.refine import box_iou, landmark_box
from detection.engine.rescore import Rescorer
from detection.engine.types import Detection

POINTS = np.array([[30, 40], [70, 40], [50, 60], [35, 80], [65, 80]], dtype=np.float32)


def face(box, score, points=POINTS):
    return Detection(box=box, score=score, landmarks=points)


def test_box_iou():
    np.testing.assert_allclose(
        box_iou((0, 0, 10, 10), np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])), [1, 1 / 3, 0]
    )
    assert box_iou((0, 0, 1, 1), np.zeros((0, 4))).shape == (0,)


def test_landmark_box_moves_the_box_down_and_stays_in_the_image():
    regression = Rescorer.load().box_regression
    det = face((10, 20, 90, 120), 0.99, POINTS + (10, 20))
    x1, y1, x2, y2 = landmark_box(det, regression, 200, 200)
    assert (y1 + y2) / 2 > 70  # annotated boxes sit lower than detector boxes
    assert 0 <= x1 < x2 <= 200 and 0 <= y1 < y2 <= 200
    assert landmark_box(det, regression, 95, 110)[3] <= 110


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
