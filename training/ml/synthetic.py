"""Synthetic variety for the mask classifier: the faces its photo sets lack, drawn from landmarks.

The training photos show mostly light-blue, white and black masks on frontal faces. In held-out
photos the classifier called some pink and lavender masks "without mask" and missed profiles. So,
from every unmasked training face with landmarks:

* a **mask** (label with_mask) in a colour or print the data lacks (pink, lavender, black, printed
  patterns), shaded by the face's own light and feathered at the edge so it reads as fabric, not a
  sticker;
* often also a **lower face covered by something that is not a mask** (label without_mask): a
  hand in the face's own skin tone, a beard, or an object held in front of the mouth;
* and, for some of both, a **yaw-like squeeze** of one side of the face, as in a profile.

Every synthetic face is cut exactly as ``data.build_crops`` cuts a photo (``crop_face`` around the
detector box, with a context crop for box jitter), so it joins the training crops unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import cv2
import numpy as np

from detection.engine.crops import crop_face
from detection.engine.imageio import ImageDecodeError, decode_image
from detection.engine.masking import MASK_SHAPES, face_frame, mask_outline
from training.ml.data import CONTEXT_MARGIN, CropSet, Sample, context_size
from training.ml.faces import detect_face

log = logging.getLogger(__name__)

#: Mask colours the data lacks or holds few of (RGB), by name (benchmarks measure some by name).
NAMED_MASK_COLOURS: dict[str, tuple[int, int, int]] = {
    "pink": (236, 164, 188),
    "light pink": (248, 196, 214),
    "deep pink": (214, 112, 160),
    "lavender": (186, 166, 222),
    "purple": (150, 128, 200),
    "black": (30, 30, 34),
    "grey": (70, 70, 76),
    "red": (200, 40, 50),
    "green": (90, 150, 100),
    "navy": (40, 50, 110),
    "white": (240, 240, 236),
    "sand": (230, 200, 120),
}
MASK_COLOURS = tuple(NAMED_MASK_COLOURS.values())
PRINTS = ("plain", "stripes", "dots", "check", "blotches")
OCCLUDERS = ("hand", "beard", "object")
#: Share of unmasked faces that also get a not-a-mask occluder, and of synthetic faces squeezed like a profile.
OCCLUDER_SHARE = 0.6
PROFILE_SHARE = 0.3
#: Landmark sanity: eyes at least this many pixels apart, or the drawing is skipped.
MIN_EYE_DISTANCE = 8.0


def _print_texture(
    height: int, width: int, colour: np.ndarray, rng: np.random.Generator, printed: bool | None
) -> np.ndarray:
    """(H, W, 3) float fabric of one colour, plain or printed with a second colour (at random
    when `printed` is None)."""
    base = np.ones((height, width, 3)) * colour
    kinds = PRINTS if printed is None else PRINTS[1:] if printed else PRINTS[:1]
    kind = kinds[rng.integers(len(kinds))]
    if kind == "plain":
        return base
    other = np.asarray(MASK_COLOURS[rng.integers(len(MASK_COLOURS))], dtype=np.float64)
    yy, xx = np.mgrid[0:height, 0:width]
    period = max(3.0, rng.uniform(0.06, 0.18) * width)
    if kind == "stripes":
        angle = rng.uniform(0, np.pi)
        on = (np.cos(angle) * xx + np.sin(angle) * yy) % period < period / 2
    elif kind == "dots":
        on = ((xx % period - period / 2) ** 2 + (yy % period - period / 2) ** 2) < (period / 4) ** 2
    elif kind == "check":
        on = ((xx // (period / 2)) + (yy // (period / 2))) % 2 == 0
    else:  # blotches: a printed, floral-like pattern
        noise = cv2.GaussianBlur(rng.random((height, width)), (0, 0), max(1.0, period / 4))
        on = noise > np.percentile(noise, 60)
    return np.where(on[:, :, None], other, base)


def _shading(image: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """The face's own light under the mask (grey relative to its mean there), softened."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float64)
    mean = grey[inside > 0.5].mean() if (inside > 0.5).any() else grey.mean()
    light = cv2.GaussianBlur(grey / max(mean, 1.0), (0, 0), 3)
    return np.clip(0.55 + 0.45 * light, 0.4, 1.4)[:, :, None]


def _blend(image: np.ndarray, paint: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    out = image.astype(np.float64) * (1 - alpha[:, :, None]) + paint * alpha[:, :, None]
    return np.clip(out, 0, 255).astype(np.uint8)


def _feathered(polygon: np.ndarray, shape: tuple[int, int], eye_distance: float) -> np.ndarray:
    alpha = np.zeros(shape, np.float32)
    cv2.fillPoly(alpha, [np.round(polygon).astype(np.int32)], 1.0, lineType=cv2.LINE_AA)
    return cv2.GaussianBlur(alpha, (0, 0), max(0.6, eye_distance / 40))


def fabric_mask(
    image: np.ndarray,
    landmarks: np.ndarray,
    rng: np.random.Generator,
    *,
    colour: tuple[int, int, int] | None = None,
    printed: bool | None = None,
) -> np.ndarray:
    """A coloured or printed mask over nose, mouth and chin, lit like the face under it.

    `colour` and `printed` (plain or patterned) are drawn at random unless given.
    """
    points = np.asarray(landmarks, dtype=np.float64)
    eye_distance = float(np.linalg.norm(points[1] - points[0]))
    outline = mask_outline(points, MASK_SHAPES[rng.integers(len(MASK_SHAPES))])
    alpha = _feathered(outline, image.shape[:2], eye_distance)
    if colour is None:
        base = np.asarray(MASK_COLOURS[rng.integers(len(MASK_COLOURS))], dtype=np.float64)
        fill = np.clip(base * rng.uniform(0.85, 1.1), 0, 255)
    else:
        fill = np.asarray(colour, dtype=np.float64)
    fabric = _print_texture(image.shape[0], image.shape[1], fill, rng, printed) * _shading(image, alpha)
    return _blend(image, fabric, alpha)


def _skin_colour(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Median colour between the eyes and the nose tip: the face's own skin."""
    centre = (points[0] + points[1] + 2 * points[2]) / 4
    r = max(2, int(np.linalg.norm(points[1] - points[0]) / 6))
    x, y = int(centre[0]), int(centre[1])
    patch = image[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1].reshape(-1, 3)
    return np.median(patch, axis=0) if len(patch) else np.array([200.0, 160.0, 140.0])


def _lower_face(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """(mouth centre, unit across, unit down, eye distance, eyes-to-mouth height of at least 1 px)."""
    _, mouth_mid, ux, uy, eye_distance, down = face_frame(points)
    return mouth_mid, ux, uy, eye_distance, max(down, 1.0)


def hand(image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A hand in the face's skin tone over mouth and chin, fingers across, nose left free."""
    points = np.asarray(landmarks, dtype=np.float64)
    mouth, ux, uy, eye_distance, down = _lower_face(points)
    centre = mouth + uy * down * rng.uniform(0.0, 0.4) + ux * eye_distance * rng.uniform(-0.4, 0.4)
    half_w, half_h = eye_distance * rng.uniform(0.8, 1.2), down * rng.uniform(0.45, 0.7)
    angle = np.degrees(np.arctan2(ux[1], ux[0])) + rng.uniform(-35, 35)
    palm = cv2.ellipse2Poly(
        (int(centre[0]), int(centre[1])), (int(half_w), int(half_h)), int(angle), 0, 360, 10
    ).astype(np.float64)
    alpha = _feathered(palm, image.shape[:2], eye_distance)
    skin = np.clip(_skin_colour(image, points) * rng.uniform(0.85, 1.1), 0, 255)
    paint = np.ones(image.shape) * skin * _shading(image, alpha)
    # darker creases between the fingers
    creases = np.zeros(image.shape[:2], np.float32)
    for k in (-0.3, 0.05, 0.4):
        a = centre + uy * half_h * k - ux * half_w
        b = centre + uy * half_h * k + ux * half_w * 0.9
        cv2.line(creases, tuple(int(v) for v in a), tuple(int(v) for v in b), 1.0, max(1, int(eye_distance / 25)))
    paint *= 1 - 0.15 * cv2.GaussianBlur(creases, (0, 0), 1.2)[:, :, None]
    return _blend(image, paint, alpha)


def beard(image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Hair strokes over jaw, chin and upper lip, skin showing between them."""
    points = np.asarray(landmarks, dtype=np.float64)
    mouth, ux, uy, eye_distance, down = _lower_face(points)
    hair = np.asarray(((25, 20, 18), (60, 45, 35), (110, 85, 60), (150, 150, 150))[rng.integers(4)], np.float64)
    strokes = np.zeros(image.shape[:2], np.float32)
    length = max(2.0, down * 0.12)
    for _ in range(int(rng.uniform(250, 500))):
        u, v = rng.uniform(-1.05, 1.05), rng.uniform(-0.25, 0.95)
        if v < 0.1 and abs(u) > 0.55:  # cheeks beside the mouth stay bare
            continue
        start = mouth + ux * eye_distance * u + uy * down * v
        direction = uy * rng.uniform(0.6, 1.0) + ux * rng.uniform(-0.4, 0.4)
        end = start + direction * length
        cv2.line(strokes, tuple(int(p) for p in start), tuple(int(p) for p in end), 1.0, 1, cv2.LINE_AA)
    alpha = np.clip(cv2.GaussianBlur(strokes, (0, 0), 0.6) * rng.uniform(0.6, 0.9), 0, 1)
    return _blend(image, np.ones(image.shape) * hair, alpha)


def held_object(image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A cup, phone or microphone in front of the mouth: a plain shape that covers part of it."""
    points = np.asarray(landmarks, dtype=np.float64)
    mouth, ux, uy, eye_distance, down = _lower_face(points)
    centre = mouth + ux * eye_distance * rng.uniform(-0.5, 0.5) + uy * down * rng.uniform(0.1, 0.6)
    w, h = eye_distance * rng.uniform(0.3, 0.6), down * rng.uniform(0.5, 0.9)
    corners = np.array([centre + ux * sx * w + uy * sy * h for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))])
    alpha = _feathered(corners, image.shape[:2], eye_distance)
    colour = np.asarray(MASK_COLOURS[rng.integers(len(MASK_COLOURS))], dtype=np.float64)
    return _blend(image, np.ones(image.shape) * colour * _shading(image, alpha), alpha)


def profile_squeeze(image: np.ndarray, box: Sequence[float], rng: np.random.Generator) -> np.ndarray:
    """One half of the face squeezed sideways, the other stretched: a yaw-like turn of the head."""
    height, width = image.shape[:2]
    x1, x2 = max(1.0, float(box[0])), min(width - 2.0, float(box[2]))
    if x2 - x1 < 4:
        return image
    cx, w = (x1 + x2) / 2, x2 - x1
    shift = w * rng.uniform(0.12, 0.25) * (1 if rng.random() < 0.5 else -1)
    xs = np.arange(width, dtype=np.float32)
    # piecewise-linear horizontal remap: the face's centre moves by `shift`, its edges stay
    src = np.interp(xs, [0, x1, cx + shift, x2, width - 1], [0, x1, cx, x2, width - 1]).astype(np.float32)
    map_x = np.repeat(src[None, :], height, axis=0)
    map_y = np.repeat(np.arange(height, dtype=np.float32)[:, None], width, axis=1)
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


DRAW_OCCLUDER: dict[str, Callable[[np.ndarray, np.ndarray, np.random.Generator], np.ndarray]] = {
    "hand": hand,
    "beard": beard,
    "object": held_object,
}


def synthetic_faces(
    samples: Sequence[Sample], input_size: int, seed: int, progress: Callable[[int, int], None] | None = None
) -> tuple[CropSet, dict]:
    """Crops of synthetic faces drawn on the unmasked samples, and counts of what was drawn.

    Faces whose landmarks the detector cannot find, or whose eyes are too close to draw on, are
    skipped (counted as such).
    """
    rng = np.random.default_rng(seed)
    csize = context_size(input_size)
    crops, context, labels = [], [], []
    counts = {"masks": 0, **{k: 0 for k in OCCLUDERS}, "profile_squeezed": 0, "skipped": 0}
    unmasked = [s for s in samples if s.label == 0]
    for i, sample in enumerate(unmasked):
        try:
            image = decode_image(sample.path)
        except (ImageDecodeError, OSError):
            counts["skipped"] += 1
            continue
        face = detect_face(image)
        if face is None or np.linalg.norm(face.landmarks[1] - face.landmarks[0]) < MIN_EYE_DISTANCE:
            counts["skipped"] += 1
            continue
        drawn = [(fabric_mask(image, face.landmarks, rng), 1)]
        counts["masks"] += 1
        if rng.random() < OCCLUDER_SHARE:
            kind = OCCLUDERS[rng.integers(len(OCCLUDERS))]
            drawn.append((DRAW_OCCLUDER[kind](image, face.landmarks, rng), 0))
            counts[kind] += 1
        for picture, label in drawn:
            if rng.random() < PROFILE_SHARE:
                picture = profile_squeeze(picture, face.box, rng)
                counts["profile_squeezed"] += 1
            crops.append(crop_face(picture, face.box, input_size))
            context.append(crop_face(picture, face.box, csize, margin=CONTEXT_MARGIN))
            labels.append(label)
        if progress and (i + 1) % 200 == 0:
            progress(i + 1, len(unmasked))
    n = len(labels)
    crop_set = CropSet(
        crops=np.asarray(crops, np.uint8).reshape(n, input_size, input_size, 3),
        context=np.asarray(context, np.uint8).reshape(n, csize, csize, 3),
        labels=np.asarray(labels, np.int64),
        face_found=np.ones(n, bool),
        paths=["synthetic"] * n,
    )
    return crop_set, counts
