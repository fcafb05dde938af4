"""Real photos for the registry tests: the astronaut (tests.photos) and matplotlib's Grace Hopper."""

from __future__ import annotations

import io
import shutil
import zipfile
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import pytest

from detection.services.enrolment import GATE
from tests.photos import encode, face_photo, in_frame


@lru_cache(maxsize=1)
def _grace() -> np.ndarray:
    from matplotlib import cbook
    from PIL import Image

    with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as img:
        return np.asarray(img.convert("RGB"))


def other_face() -> np.ndarray:
    """A different real person (Grace Hopper, 512x600)."""
    return _grace().copy()


def two_faces() -> np.ndarray:
    """The astronaut and Grace Hopper side by side (the astronaut's face is the larger)."""
    left = face_photo()
    right = cv2.resize(other_face(), (256, 300))
    canvas = np.full((600, 800, 3), 127, np.uint8)
    canvas[:512, :512] = left
    canvas[:300, 540:796] = right
    return canvas


def small_face() -> np.ndarray:
    """The astronaut shrunk until her face is below the gate's minimum size, in a camera frame."""
    return in_frame(cv2.resize(face_photo(), (180, 180), interpolation=cv2.INTER_AREA))


def blurred_face() -> np.ndarray:
    return cv2.GaussianBlur(face_photo(), (0, 0), 3)


def jpeg(image: np.ndarray) -> bytes:
    return encode(image, "JPEG", quality=92)


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def media(settings):
    """The emptied folder of registry files (MEDIA_ROOT/faces), so tests can check exactly which exist.

    MEDIA_ROOT itself stays: it also holds the active classifier model.
    """
    folder = Path(settings.MEDIA_ROOT) / "faces"
    shutil.rmtree(folder, ignore_errors=True)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


assert GATE.min_face_px > 40  # small_face() relies on it
