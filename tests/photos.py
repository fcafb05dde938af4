"""Real photos for tests, built in code so no shared data is needed.

scikit-image ships a real portrait (the astronaut Eileen Collins); a mask is drawn over her
lower face from the detector's landmarks, as the face registry does for enrolment variants.
"""

from __future__ import annotations

import io
from functools import lru_cache

import numpy as np
from PIL import Image
from skimage import data

from detection.engine.masking import draw_mask
from detection.engine.pipeline import get_pipeline


@lru_cache(maxsize=1)
def _face() -> np.ndarray:
    image = data.astronaut()
    image.setflags(write=False)
    return image


def face_photo() -> np.ndarray:
    """512x512 RGB portrait with one unmasked face."""
    return _face().copy()


def masked_face_photo(shape: str = "surgical") -> np.ndarray:
    """The same portrait with a mask drawn from the detected landmarks."""
    image = face_photo()
    faces = get_pipeline("accurate").detect(image)
    assert faces, "the test portrait must contain a detectable face"
    largest = max(faces, key=lambda d: d.width * d.height)
    return draw_mask(image, largest.landmarks, shape=shape)


def in_frame(image: np.ndarray, width: int = 640, height: int = 480) -> np.ndarray:
    """The photo pasted on a grey frame of the given size (like a camera frame)."""
    frame = np.full((height, width, 3), 127, dtype=np.uint8)
    h, w = min(height, image.shape[0]), min(width, image.shape[1])
    top, left = (height - h) // 2, (width - w) // 2
    frame[top : top + h, left : left + w] = image[:h, :w]
    return frame


def encode(image: np.ndarray, fmt: str = "JPEG", **save_args) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=fmt, **save_args)
    return buffer.getvalue()
