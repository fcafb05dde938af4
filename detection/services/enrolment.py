"""Enrolment: turn one photo into stored face samples, after a quality gate that says why it refuses.

A sample is the photo, its face crop and the recognizer's embedding (float32 bytes), plus
embeddings of the same face with synthetic masks drawn on it (shapes and colours vary), so a
person enrolled bare-faced is still recognised behind a mask. The gallery matches against all.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import cv2
import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction

from detection.engine import enrolment as engine_enrolment
from detection.engine.crops import crop_face
from detection.engine.enrolment import CROP_SIZE, GATE, EnrolmentRejected, PreparedFace, QualityGate
from detection.engine.imageio import ImageDecodeError, decode_image, encode_image
from detection.engine.pipeline import Pipeline, get_pipeline
from detection.engine.types import Box
from detection.models import FaceSample, Person

logger = logging.getLogger(__name__)

#: Longest side of the stored photo; larger uploads are downscaled (the face crop keeps the detail).
PHOTO_MAX_SIDE = 1600
#: Samples are kept a little finer than analysed photos: they are matched again on every recognizer change.
SAMPLE_JPEG_QUALITY = 90


def enrolment_pipeline() -> Pipeline:
    """Detector and recognizer of the upload pipeline: the gallery is matched with the same recognizer."""
    return get_pipeline(settings.ENGINE_UPLOAD_MODE)


def prepare(image: np.ndarray, *, pipeline: Pipeline | None = None, **options: Any) -> PreparedFace:
    """The engine's enrolment checks (`detection.engine.enrolment.prepare`) with the upload pipeline."""
    return engine_enrolment.prepare(image, pipeline or enrolment_pipeline(), **options)


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


def _jpeg_file(image: np.ndarray) -> ContentFile:
    return ContentFile(encode_image(image, quality=SAMPLE_JPEG_QUALITY))


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
            sample.image.save(f"{stem}.jpg", _jpeg_file(_photo(prepared.image)), save=False)
            sample.crop.save(
                f"{stem}.jpg", _jpeg_file(crop_face(prepared.image, prepared.face.box, CROP_SIZE)), save=False
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
                    _jpeg_file(crop_face(masked, prepared.face.box, CROP_SIZE)),
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
