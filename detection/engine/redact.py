"""Hiding faces in an image: blur or pixelate the regions of given face boxes (no model of its own).

Used for the privacy modes of stored detection images and to remove an erased person's face from
the images already stored. Boxes are grown by `PAD` on every side so hair line, ears and chin,
which detectors' boxes often cut, are hidden too.
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from detection.engine.types import Box

BLUR = "blur"
PIXELATE = "pixelate"
METHODS = (BLUR, PIXELATE)

#: Fraction of the box's width/height added on each side.
PAD = 0.15
#: Pixelation keeps this many blocks across the face: too few to recognise anyone.
PIXEL_BLOCKS = 8


def padded(box: Box, width: int, height: int, pad: float = PAD) -> tuple[int, int, int, int]:
    """The box grown by `pad` on each side, as integer pixel bounds clipped to the image."""
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * pad, (y2 - y1) * pad
    return (
        max(0, int(np.floor(x1 - dx))),
        max(0, int(np.floor(y1 - dy))),
        min(width, int(np.ceil(x2 + dx))),
        min(height, int(np.ceil(y2 + dy))),
    )


def _pixelate(region: np.ndarray) -> np.ndarray:
    h, w = region.shape[:2]
    blocks_x = max(1, min(PIXEL_BLOCKS, w))
    blocks_y = max(1, min(round(PIXEL_BLOCKS * h / max(w, 1)), h))
    small = cv2.resize(region, (blocks_x, blocks_y), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


def _blur(region: np.ndarray) -> np.ndarray:
    # Downscaling first removes the detail a Gaussian alone can leave; the blur smooths the blocks.
    h, w = region.shape[:2]
    small = cv2.resize(region, (max(1, w // 12), max(1, h // 12)), interpolation=cv2.INTER_AREA)
    smooth = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    sigma = max(1.0, max(w, h) / 10)
    return cv2.GaussianBlur(smooth, (0, 0), sigma)


def redact(image: np.ndarray, boxes: Iterable[Box], method: str = BLUR, pad: float = PAD) -> np.ndarray:
    """A copy of `image` with every box's region blurred or pixelated; outside them it is unchanged."""
    if method not in METHODS:
        raise ValueError(f"unknown redaction method {method!r}; expected one of {', '.join(METHODS)}")
    out = image.copy()
    height, width = image.shape[:2]
    hide = _blur if method == BLUR else _pixelate
    for box in boxes:
        x1, y1, x2, y2 = padded(box, width, height, pad)
        if x2 - x1 < 2 or y2 - y1 < 2:
            continue
        out[y1:y2, x1:x2] = hide(np.ascontiguousarray(out[y1:y2, x1:x2]))  # overlaps stay hidden
    return out
