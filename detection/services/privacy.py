"""Privacy modes of stored detection images, per source (uploads and API, batches, cameras).

The analysis result is never changed (the live overlay and the log rows are the same in every
mode); only what is written to storage is: the whole image, the image with every face that is
not a recognised registered person blurred or pixelated (the engine's boxes, no model of its
own), only the face crops of people without a mask, or nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from detection.engine.redact import BLUR, PIXELATE, redact
from detection.engine.refine import pair_iou
from detection.engine.types import Box
from detection.models import DetectionLog, PlatformSettings, PrivacyMode

#: The PlatformSettings field that holds each source's privacy mode.
SOURCE_FIELD: dict[str, str] = {
    DetectionLog.Source.UPLOAD: "privacy_uploads",
    DetectionLog.Source.API: "privacy_uploads",
    DetectionLog.Source.BATCH: "privacy_batches",
    DetectionLog.Source.LIVE: "privacy_cameras",
    DetectionLog.Source.CAMERA: "privacy_cameras",
}

#: Sources whose logged analysis names one tracked face of the frame, not every face in it.
PARTIAL_SOURCES = {DetectionLog.Source.LIVE, DetectionLog.Source.CAMERA}

_METHOD: dict[str, str] = {PrivacyMode.BLUR: BLUR, PrivacyMode.PIXELATE: PIXELATE}


def mode_for(source: str, settings_row: PlatformSettings | None = None) -> str:
    row = settings_row or PlatformSettings.current()
    return getattr(row, SOURCE_FIELD.get(source, "privacy_uploads"))


@dataclass(frozen=True)
class StoredFace:
    """What privacy needs of one analysed face: where it is, whether it is a recognised person, its mask."""

    box: Box
    recognised: bool
    unmasked: bool


@dataclass
class StoragePlan:
    """What to write for one analysed image."""

    image: np.ndarray | None
    """The full image to store (None: none), redacted when `redacted`."""
    redacted: bool = False
    crops: set[int] = field(default_factory=set)
    """Indices of the faces whose crop is stored."""
    crop_source: np.ndarray | None = None
    """The image crops are cut from (redacted faces stay hidden in their crops too)."""


def _overlaps(a: Box, b: Box, min_iou: float = 0.3) -> bool:
    return pair_iou(a, b) >= min_iou


def plan(
    image: np.ndarray,
    faces: Sequence[StoredFace],
    mode: str,
    *,
    other_faces: Callable[[], Sequence[Box]] | None = None,
) -> StoragePlan:
    """Decide what to store of `image` under `mode`.

    `other_faces`, for frames whose analysis lists only some faces (a live track's), returns every
    face box the engine finds in the frame, so bystanders are hidden as well.
    """
    if mode == PrivacyMode.NOTHING:
        return StoragePlan(image=None)
    if mode == PrivacyMode.VIOLATIONS:
        return StoragePlan(image=None, crops={i for i, f in enumerate(faces) if f.unmasked}, crop_source=image)
    everyone = set(range(len(faces)))
    if mode == PrivacyMode.WHOLE:
        return StoragePlan(image=image, crops=everyone, crop_source=image)
    if mode not in _METHOD:
        raise ValueError(f"unknown privacy mode {mode!r}")
    hidden = [f.box for f in faces if not f.recognised]
    if other_faces is not None:
        recognised = [f.box for f in faces if f.recognised]
        hidden += [box for box in other_faces() if not any(_overlaps(box, known) for known in recognised)]
    if not hidden:
        return StoragePlan(image=image, crops=everyone, crop_source=image)
    safe = redact(image, hidden, _METHOD[mode])
    return StoragePlan(image=safe, redacted=True, crops=everyone, crop_source=safe)
