"""Draw a synthetic face mask from facial landmarks.

Used to test the classifier on real photos and by enrolment to add masked variants of a
person, so people are still recognised behind a mask.
"""

from __future__ import annotations

import cv2
import numpy as np

MASK_SHAPES = ("surgical", "cloth", "n95")
#: Light blue of a surgical mask, as RGB.
DEFAULT_COLOR = (160, 200, 230)


def face_frame(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, float]:
    """The face's own axes from 5 points (eye, eye, nose, mouth corner, mouth corner): eyes' centre,
    mouth centre, unit vector across the face (left to right), unit vector down it, eye distance and
    eyes-to-mouth height; everything drawn on a face is placed in these axes, whatever its tilt."""
    points = np.asarray(points, dtype=np.float64)
    eyes_mid, mouth_mid = (points[0] + points[1]) / 2, (points[3] + points[4]) / 2
    across = points[1] - points[0]
    eye_dist = max(float(np.linalg.norm(across)), 1.0)
    ux = across / eye_dist
    uy = np.array([-ux[1], ux[0]])
    if np.dot(uy, mouth_mid - eyes_mid) < 0:
        uy = -uy
    return eyes_mid, mouth_mid, ux, uy, eye_dist, float(np.dot(mouth_mid - eyes_mid, uy))


def _outline_from_5(points: np.ndarray, shape: str) -> np.ndarray:
    """Mask outline from 5 points (eye, eye, nose, mouth corner, mouth corner)."""
    eyes_mid, mouth_mid, ux, uy, eye_dist, down = face_frame(points)
    top = eyes_mid + uy * down * (0.32 if shape != "n95" else 0.25)
    half = eye_dist * (1.05 if shape != "n95" else 0.95)
    chin = mouth_mid + uy * down * (0.8 if shape != "cloth" else 0.9)
    mid = mouth_mid - uy * down * 0.15
    outline = [
        top - ux * half * 0.55,
        top + ux * half * 0.55,
        top + ux * half * 0.95 + uy * down * 0.25,
        mid + ux * half,
        mouth_mid + ux * half * 0.9 + uy * down * 0.5,
        chin + ux * half * 0.45,
        chin,
        chin - ux * half * 0.45,
        mouth_mid - ux * half * 0.9 + uy * down * 0.5,
        mid - ux * half,
        top - ux * half * 0.95 + uy * down * 0.25,
    ]
    return np.asarray(outline)


def _outline_from_68(points: np.ndarray) -> np.ndarray:
    """Mask outline from dlib's 68 points: the jaw line below the cheeks, up to the nose bridge."""
    jaw = points[2:15]
    bridge = points[28]
    return np.vstack([jaw, bridge[None, :]]).astype(np.float64)


def mask_outline(landmarks: np.ndarray, shape: str = "surgical") -> np.ndarray:
    """The mask's outline polygon, (K, 2) pixels, from 5 detector landmarks or dlib's 68 points."""
    if shape not in MASK_SHAPES:
        raise ValueError(f"unknown mask shape {shape!r}; choose one of {MASK_SHAPES}")
    points = np.asarray(landmarks, dtype=np.float64).reshape(-1, 2)
    if len(points) == 5:
        return _outline_from_5(points, shape)
    if len(points) == 68:
        return _outline_from_68(points)
    raise ValueError(f"expected 5 or 68 landmarks, got {len(points)}")


def draw_mask(
    image: np.ndarray,
    landmarks: np.ndarray,
    shape: str = "surgical",
    color: tuple[int, int, int] = DEFAULT_COLOR,
) -> np.ndarray:
    """A copy of the RGB image with a mask drawn over nose, mouth and chin.

    `landmarks` is (5, 2) as the detectors return, or (68, 2) in dlib's order.
    """
    out = image.copy()
    poly = np.round(mask_outline(landmarks, shape)).astype(np.int32)
    cv2.fillPoly(out, [poly], color, lineType=cv2.LINE_AA)
    # Shading and pleats make it look like fabric rather than a flat sticker.
    shade = tuple(int(c * 0.8) for c in color)
    cv2.polylines(out, [poly], True, shade, max(1, int(np.ptp(poly[:, 0]) / 60)), cv2.LINE_AA)
    if shape == "surgical":
        x_min, x_max = poly[:, 0].min(), poly[:, 0].max()
        y_min, y_max = poly[:, 1].min(), poly[:, 1].max()
        inside = np.zeros(out.shape[:2], dtype=np.uint8)
        cv2.fillPoly(inside, [poly], 1)
        pleats = out.copy()
        for k in (0.35, 0.55, 0.75):
            y = int(y_min + (y_max - y_min) * k)
            cv2.line(pleats, (int(x_min), y), (int(x_max), y), shade, max(1, int((y_max - y_min) / 40)))
        out = np.where(inside[:, :, None] == 1, pleats, out)
    return out
