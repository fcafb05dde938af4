"""Enrolment: turn one photo into stored face samples, after a quality gate that says why it refuses.

A sample is the photo, its face crop and the recognizer's embedding (float32 bytes), plus
embeddings of the same face with synthetic masks drawn on it (shapes and colours vary), so a
person enrolled bare-faced is still recognised behind a mask. The gallery matches against all.
"""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from PIL import Image

from detection.engine.crops import crop_face
from detection.engine.imageio import ImageDecodeError, decode_image
from detection.engine.masking import draw_mask
from detection.engine.pipeline import Pipeline, get_pipeline
from detection.engine.types import Box, Detection
from detection.models import FaceSample, Person

logger = logging.getLogger(__name__)

#: Side of the stored face crops, in pixels.
CROP_SIZE = 160
#: Longest side of the stored photo; larger uploads are downscaled (the face crop keeps the detail).
PHOTO_MAX_SIDE = 1600

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


def enrolment_pipeline() -> Pipeline:
    """Detector and recognizer of the upload pipeline: the gallery is matched with the same recognizer."""
    return get_pipeline(settings.ENGINE_UPLOAD_MODE)


def sharpness(image: np.ndarray, box: Box) -> float:
    """Blur measure: variance of the Laplacian of the face crop (higher is sharper)."""
    grey = cv2.cvtColor(crop_face(image, box, CROP_SIZE), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def _iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


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
    *,
    pipeline: Pipeline | None = None,
    allow_largest: bool = False,
    near_box: Box | None = None,
    mask_variants: bool = True,
    gate: QualityGate = GATE,
) -> PreparedFace:
    """Detect, check and embed the face of a decoded photo (everything but the duplicate check)."""
    pipeline = pipeline or enrolment_pipeline()
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


def embedding_of(sample: FaceSample) -> np.ndarray:
    return np.frombuffer(bytes(sample.embedding), dtype="<f4")


def _distances(pipeline: Pipeline, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
    gallery = pipeline.new_gallery()
    gallery.add_many(["x"] * len(rows), rows)
    return gallery.distances(query[None])[0]


def check_duplicate(
    person: Person, prepared: PreparedFace, *, pipeline: Pipeline | None = None, gate: QualityGate = GATE
) -> float | None:
    """Refuse a photo nearly identical to one of the person's samples; returns the nearest distance."""
    samples = list(
        person.samples.filter(synthetic_mask=False, embedding_model=prepared.recognizer).only("id", "embedding")
    )
    if not samples:
        return None
    dist = _distances(
        pipeline or enrolment_pipeline(), prepared.embedding, np.stack([embedding_of(s) for s in samples])
    )
    nearest = int(dist.argmin())
    if dist[nearest] < gate.duplicate_distance:
        raise EnrolmentRejected(
            "duplicate",
            f"The photo is a near-duplicate of sample #{samples[nearest].id} (distance {dist[nearest]:.3f}).",
        )
    return round(float(dist[nearest]), 4)


def _jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _photo(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    scale = PHOTO_MAX_SIDE / max(h, w)
    if scale >= 1:
        return image
    return cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)


def decode(data: bytes) -> np.ndarray:
    """Decode an uploaded photo; a bad file is a rejection like any other."""
    try:
        return decode_image(data, max_pixels=settings.MAX_IMAGE_PIXELS)
    except ImageDecodeError as exc:
        raise EnrolmentRejected("not_an_image", str(exc)) from exc


def enrol(
    person: Person,
    data: bytes | np.ndarray,
    *,
    source: str = FaceSample.Source.UPLOAD,
    allow_largest: bool = False,
    near_box: Box | None = None,
    mask_variants: bool = True,
    notify: bool = True,
) -> FaceSample:
    """Check a photo, store it with its crop and embeddings (plus synthetic-mask variants).

    Raises EnrolmentRejected (nothing written) when the photo fails the quality gate. With
    `notify`, every process reloads its gallery; bulk callers pass False and notify once.
    """
    image = decode(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
    pipeline = enrolment_pipeline()
    prepared = prepare(
        image, pipeline=pipeline, allow_largest=allow_largest, near_box=near_box, mask_variants=mask_variants
    )
    nearest = check_duplicate(person, prepared, pipeline=pipeline)
    if nearest is not None:
        prepared.quality["nearest_sample_distance"] = nearest
    sample = save(person, prepared, source=source)
    if notify:
        from detection.services.gallery import registry_changed

        registry_changed()
    return sample


def save(person: Person, prepared: PreparedFace, *, source: str) -> FaceSample:
    """Write the sample, its variants and their files; on any error nothing stays behind."""
    stem = f"{person.pk}-{uuid.uuid4().hex[:12]}"
    written: list[FaceSample] = []
    try:
        with transaction.atomic():
            sample = FaceSample(
                person=person,
                embedding=prepared.embedding.astype("<f4").tobytes(),
                embedding_model=prepared.recognizer,
                quality=prepared.quality,
                source=source,
            )
            written.append(sample)
            sample.image.save(f"{stem}.jpg", ContentFile(_jpeg(_photo(prepared.image))), save=False)
            sample.crop.save(
                f"{stem}.jpg", ContentFile(_jpeg(crop_face(prepared.image, prepared.face.box, CROP_SIZE))), save=False
            )
            sample.save()
            for k, (description, masked, embedding) in enumerate(prepared.variants):
                variant = FaceSample(
                    person=person,
                    embedding=np.asarray(embedding, dtype="<f4").tobytes(),
                    embedding_model=prepared.recognizer,
                    quality=description,
                    source=source,
                    synthetic_mask=True,
                    variant_of=sample,
                )
                written.append(variant)
                variant.crop.save(
                    f"{stem}-mask{k}.jpg",
                    ContentFile(_jpeg(crop_face(masked, prepared.face.box, CROP_SIZE))),
                    save=False,
                )
                variant.save()
    except Exception:
        for row in written:
            delete_files(row)
        raise
    logger.info("enrolled sample %s for person %s (%d mask variants)", sample.pk, person.pk, len(prepared.variants))
    return sample


def delete_files(sample: FaceSample) -> None:
    """Remove a sample's photo and crop from storage (the row is the caller's business)."""
    for f in (sample.image, sample.crop):
        if f and f.name:
            f.storage.delete(f.name)
