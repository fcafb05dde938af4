"""Face crops shared by the engine at run time and by classifier training.

Training and inference must crop identically, or the classifier sees a different
distribution in production than it was trained on; this module is the one place that
decides margin, squareness and size.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

#: Fraction of the face box side added around it on every side before cropping.
CROP_MARGIN = 0.15


def square_box(box: Sequence[float], margin: float = CROP_MARGIN) -> tuple[int, int, int, int]:
    """A square around the box centre whose side is the longer box side plus the margin."""
    x1, y1, x2, y2 = (float(v) for v in box)
    side = max(x2 - x1, y2 - y1) * (1.0 + 2.0 * margin)
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    half = max(side / 2.0, 1.0)
    return (
        int(round(cx - half)),
        int(round(cy - half)),
        int(round(cx + half)),
        int(round(cy + half)),
    )


def whole_image_box(width: int, height: int) -> tuple[float, float, float, float]:
    """A box whose `crop_face` crop is exactly the image's longer-side square: how training crops a
    photo with no detected face, and how the engine classifies a close-up it finds no face in."""
    side = max(width, height) / (1.0 + 2.0 * CROP_MARGIN)
    cx, cy = width / 2.0, height / 2.0
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def crop_face(image: np.ndarray, box: Sequence[float], size: int, margin: float = CROP_MARGIN) -> np.ndarray:
    """Square crop of an RGB uint8 image around `box`, edge-padded where it leaves the frame.

    Returns a `size` x `size` x 3 uint8 array (the classifier does its own normalisation).
    """
    h, w = image.shape[:2]
    x1, y1, x2, y2 = square_box(box, margin)
    pad_left, pad_top = max(0, -x1), max(0, -y1)
    pad_right, pad_bottom = max(0, x2 - w), max(0, y2 - h)
    region = image[max(0, y1) : min(h, y2), max(0, x1) : min(w, x2)]
    if region.size == 0:
        region = np.zeros((1, 1, 3), dtype=np.uint8)
    if pad_left or pad_top or pad_right or pad_bottom:
        region = cv2.copyMakeBorder(region, pad_top, pad_bottom, pad_left, pad_right, cv2.BORDER_REPLICATE)
    interpolation = cv2.INTER_AREA if region.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(region, (size, size), interpolation=interpolation)
