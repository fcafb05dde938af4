"""Enrolment in plain Python: choose the face of a photo, check its quality (saying why it refuses)
and embed it, with synthetic masks drawn on it so that a person enrolled bare-faced is still recognised
behind a mask. The face registry (detection.services.enrolment) and `manage.py analyze --gallery` both
enrol through here, so the command line accepts and refuses exactly the photos the registry does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from detection.engine.crops import crop_face
from detection.engine.gallery import Gallery
from detection.engine.masking import draw_mask
from detection.engine.pipeline import Pipeline
from detection.engine.refine import box_iou
from detection.engine.types import Box, Detection

#: Side of the stored face crops, in pixels.
CROP_SIZE = 160

#: Synthetic masks added at enrolment: (shape, RGB colour): a blue surgical mask, dark and light
#: cloth masks, a white N95. The same styles as benchmarks/recognition_accuracy.py, which tunes the
#: recognizer's variant threshold for them.
MASK_VARIANTS: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("surgical", (160, 200, 230)),
    ("cloth", (40, 40, 45)),
    ("cloth", (225, 225, 220)),
    ("n95", (245, 245, 245)),
)


@dataclass(frozen=True)
class QualityGate:
    """Limits a photo must meet; calibrated on face-recognition-dev (LFW), where every photo passes.

    `min_sharpness` is the variance of the Laplacian of the grey face crop resized to
    CROP_SIZE, so it does not depend on the photo's resolution. `duplicate_distance` is a
    recognizer distance: closer than that to a sample the person already has adds nothing.
    """

    min_face_px: int = 48
    min_score: float = 0.7
    min_sharpness: float = 15.0
    duplicate_distance: float = 0.06


GATE = QualityGate()


class EnrolmentRejected(ValueError):
    """The photo was refused; `code` is stable for programs, the message is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class PreparedFace:
    """The engine's work on one photo, before anything is written."""

    image: np.ndarray
    face: Detection
    embedding: np.ndarray
    recognizer: str
    quality: dict[str, Any]
    variants: list[tuple[dict[str, Any], np.ndarray, np.ndarray]] = field(default_factory=list)
    """(description, masked photo, embedding) per synthetic mask."""


def sharpness(image: np.ndarray, box: Box) -> float:
    """Blur measure: variance of the Laplacian of the face crop (higher is sharper)."""
    grey = cv2.cvtColor(crop_face(image, box, CROP_SIZE), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def _iou(a: Box, b: Box) -> float:
    return float(box_iou(a, np.array([b], dtype=np.float64))[0])


def choose_face(faces: Sequence[Detection], *, allow_largest: bool = False, near_box: Box | None = None) -> Detection:
    """The one face to enrol: the only one, the one over `near_box`, or the largest when allowed."""
    if not faces:
        raise EnrolmentRejected("no_face", "No face was found in the photo.")
    if near_box is not None:
        best = max(faces, key=lambda d: _iou(d.box, near_box))
        if _iou(best.box, near_box) < 0.3:
            raise EnrolmentRejected("no_face", "The selected face was not found again in the photo.")
        return best
    if len(faces) > 1 and not allow_largest:
        raise EnrolmentRejected(
            "several_faces",
            f"The photo shows {len(faces)} faces; use a photo of one person, or confirm to enrol the largest face.",
        )
    return max(faces, key=lambda d: d.width * d.height)


def masked_variants(
    pipeline: Pipeline, image: np.ndarray, face: Detection
) -> list[tuple[dict[str, Any], np.ndarray, np.ndarray]]:
    """The face with each synthetic mask drawn on it, embedded on the original landmarks."""
    out = []
    for shape, color in MASK_VARIANTS:
        masked = draw_mask(image, face.landmarks, shape=shape, color=color)
        out.append(({"mask_shape": shape, "mask_color": list(color)}, masked, pipeline.recognizer.embed(masked, face)))
    return out


def prepare(
    image: np.ndarray,
    pipeline: Pipeline,
    *,
    allow_largest: bool = False,
    near_box: Box | None = None,
    mask_variants: bool = True,
    gate: QualityGate = GATE,
) -> PreparedFace:
    """Detect, check and embed the face of a decoded photo (everything but the duplicate check)."""
    faces = pipeline.detect(image)
    face = choose_face(faces, allow_largest=allow_largest, near_box=near_box)
    side = min(face.width, face.height)
    if side < gate.min_face_px:
        raise EnrolmentRejected(
            "face_too_small", f"The face is {side:.0f} px across; at least {gate.min_face_px} px is needed."
        )
    if face.score < gate.min_score:
        raise EnrolmentRejected(
            "low_score", f"The face is unclear (detection score {face.score:.2f}, at least {gate.min_score:.2f})."
        )
    sharp = sharpness(image, face.box)
    if sharp < gate.min_sharpness:
        raise EnrolmentRejected(
            "blurry", f"The face is blurred (sharpness {sharp:.1f}, at least {gate.min_sharpness:.0f})."
        )
    quality = {
        "faces": len(faces),
        "face_px": round(side, 1),
        "score": round(float(face.score), 4),
        "sharpness": round(sharp, 1),
        "box": [round(float(v), 1) for v in face.box],
    }
    prepared = PreparedFace(
        image=image,
        face=face,
        embedding=pipeline.recognizer.embed(image, face).astype("<f4"),
        recognizer=pipeline.recognizer.name,
        quality=quality,
    )
    if mask_variants:
        prepared.variants = masked_variants(pipeline, image, face)
    return prepared


def add_samples(
    gallery: Gallery, names: Sequence[str], embeddings: np.ndarray, variant_of: Sequence[int | None]
) -> list[str]:
    """Add a person's photos as plain rows and, per photo, the mean of its synthetic-mask variants
    as one variant row: as accurate as one row per variant on face-recognition-dev, with fewer false
    accepts and 2 rows a photo instead of 5, which keeps matching 10,000 people under 5 ms.

    `variant_of[i]` is None for a photo's own embedding, else a key shared by one photo's variants.
    Returns the names of the rows added, in order.
    """
    plain = [i for i, group in enumerate(variant_of) if group is None]
    groups: dict[tuple[str, int], list[int]] = defaultdict(list)
    for i, group in enumerate(variant_of):
        if group is not None:
            groups[(names[i], group)].append(i)
    pooled = [embeddings[rows].mean(axis=0) for rows in groups.values()]
    row_names = [names[i] for i in plain] + [name for name, _ in groups]
    if not row_names:
        return row_names
    gallery.add_many(
        row_names,
        np.vstack([embeddings[plain], *[p[None] for p in pooled]]),
        variants=[False] * len(plain) + [True] * len(pooled),
    )
    return row_names


def enrol_in_gallery(gallery: Gallery, name: str, prepared: PreparedFace, photo_key: int) -> list[str]:
    """Add one prepared photo (and its pooled mask variants) to an in-memory gallery."""
    rows = [prepared.embedding, *[embedding for _, _, embedding in prepared.variants]]
    return add_samples(gallery, [name] * len(rows), np.stack(rows), [None] + [photo_key] * len(prepared.variants))
