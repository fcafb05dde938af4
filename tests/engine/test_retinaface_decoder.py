"""RetinaFace anchor generation and decoding against values worked out by hand."""

import numpy as np

from detection.engine.detectors.retinaface import anchors_for, decode_boxes, decode_landmarks


def test_anchor_count_and_order_for_64x64():
    anchors = anchors_for(64, 64)
    # stride 8: 8x8 cells x 2 sizes, stride 16: 4x4 x 2, stride 32: 2x2 x 2
    assert anchors.shape == (128 + 32 + 8, 4)
    np.testing.assert_allclose(anchors[0], [4, 4, 16, 16])
    np.testing.assert_allclose(anchors[1], [4, 4, 32, 32])
    np.testing.assert_allclose(anchors[2], [12, 4, 16, 16])  # next column, first size
    np.testing.assert_allclose(anchors[16], [4, 12, 16, 16])  # second row starts after 8 cells x 2
    np.testing.assert_allclose(anchors[128], [8, 8, 64, 64])  # first stride-16 anchor
    np.testing.assert_allclose(anchors[129], [8, 8, 128, 128])
    np.testing.assert_allclose(anchors[160], [16, 16, 256, 256])  # first stride-32 anchor
    np.testing.assert_allclose(anchors[-1], [48, 48, 512, 512])


def test_anchor_grid_rounds_up_for_sizes_not_divisible_by_stride():
    anchors = anchors_for(40, 72)
    # ceil(40/8)*ceil(72/8)*2 + ceil(40/16)*ceil(72/16)*2 + ceil(40/32)*ceil(72/32)*2
    assert len(anchors) == 5 * 9 * 2 + 3 * 5 * 2 + 2 * 3 * 2


def test_decode_boxes_zero_offsets_give_the_anchor():
    anchors = np.array([[100, 50, 32, 32]], dtype=np.float32)
    np.testing.assert_allclose(decode_boxes(np.zeros((1, 4), np.float32), anchors), [[84, 34, 116, 66]])


def test_decode_boxes_with_offsets():
    anchors = np.array([[100, 50, 32, 16]], dtype=np.float32)
    loc = np.array([[1.0, -2.0, np.log(2) / 0.2, 0.0]], dtype=np.float32)
    # centre x = 100 + 1*0.1*32 = 103.2, centre y = 50 - 2*0.1*16 = 46.8; w = 32*2 = 64, h = 16
    np.testing.assert_allclose(decode_boxes(loc, anchors), [[71.2, 38.8, 135.2, 54.8]], rtol=1e-5)


def test_decode_landmarks():
    anchors = np.array([[100, 50, 20, 40]], dtype=np.float32)
    pre = np.array([[0, 0, 1, 1, -1, 0, 0, 2, 5, -5]], dtype=np.float32)
    expected = [[100, 50, 102, 54, 98, 50, 100, 58, 110, 30]]
    np.testing.assert_allclose(decode_landmarks(pre, anchors), expected, rtol=1e-5)
