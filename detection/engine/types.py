"""Plain data types shared by the engine stages (no model code here, so everything can import it)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Box = tuple[float, float, float, float]

#: The mask-state vocabulary, defined once: the engine's labels, the models' choices
#: (detection.models.MaskLabel) and the classifier's class order (label 1 = with_mask) all use it.
WITH_MASK = "with_mask"
WITHOUT_MASK = "without_mask"
MASK_STATES = (WITHOUT_MASK, WITH_MASK)
MASK_STATE_NAMES = {WITH_MASK: "With mask", WITHOUT_MASK: "Without mask"}

#: How a close-up with no detected face was answered (`FaceResult.fallback`; None = detected as
#: usual), defined once for the engine and the stored faces (detection.models.DetectedFace.Fallback).
FALLBACK_PADDED = "padded"
FALLBACK_WHOLE_IMAGE = "whole_image"
FALLBACK_NAMES = {
    FALLBACK_PADDED: "Found in the framed photo",
    FALLBACK_WHOLE_IMAGE: "Whole image classified (no face box)",
}


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
