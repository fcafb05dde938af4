"""Plain data types shared by the engine stages (no model code here, so everything can import it)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Box = tuple[float, float, float, float]

WITH_MASK = "with_mask"
WITHOUT_MASK = "without_mask"


@dataclass(frozen=True)
class Detection:
    """One face found by a detector, in pixels of the original image.

    `landmarks` is a (5, 2) float32 array in the order used by YuNet and RetinaFace: the eye on
    the image's left, the other eye, nose tip, left mouth corner, right mouth corner (image sides).
    """

    box: Box
    score: float
    landmarks: np.ndarray = field(repr=False)

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]
