"""The stored photo of a log with its faces drawn as reviewed: drawn when a page asks for it, never
stored twice."""

from __future__ import annotations

import numpy as np
from django.conf import settings

from detection.engine.imageio import decode_image, encode_image
from detection.engine.pipeline import Analysis
from detection.models import DetectionLog, MaskLabel


def annotated_jpeg(log: DetectionLog) -> bytes | None:
    """The stored photo with the faces drawn as reviewed (served by a view, never stored twice);
    None when no image was kept."""
    from detection.engine.annotate import annotate
    from detection.engine.pipeline import FaceResult
    from detection.engine.types import Detection

    if not log.image:
        return None
    with log.image.open("rb") as handle:
        image = decode_image(handle.read(), max_pixels=settings.MAX_IMAGE_PIXELS)
    scale = image.shape[1] / log.image_width if log.image_width else 1.0
    faces = []
    for face in log.faces.select_related("person", "corrected_person"):
        x1, y1, x2, y2 = (v * scale for v in face.box)
        box = (x1, y1, x2, y2)
        person = face.effective_person
        label = face.effective_mask_label
        probability = face.mask_probability
        if face.corrected_mask_label:  # a reviewer's label is certain
            probability = 1.0 if label == MaskLabel.WITH_MASK else 0.0
        faces.append(
            FaceResult(
                box=box,
                score=face.score,
                keypoints=np.zeros((5, 2), np.float32),
                mask=label,
                mask_score=probability,
                identity=person.display_name if person else None,
                distance=face.distance,
                detection=Detection(box=box, score=face.score, landmarks=np.zeros((5, 2), np.float32)),
            )
        )
    drawn = annotate(image, Analysis(width=image.shape[1], height=image.shape[0], faces=faces, timings_ms={}))
    return encode_image(drawn)
