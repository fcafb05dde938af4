"""Draw analysed faces on a copy of the image: boxes coloured by mask state, with labels."""

from __future__ import annotations

import cv2
import numpy as np

from detection.engine.pipeline import Analysis
from detection.engine.types import WITH_MASK

#: RGB colours: green for a mask, red for none, amber while unsure.
COLOR_WITH = (40, 180, 60)
COLOR_WITHOUT = (220, 40, 40)
COLOR_UNSURE = (240, 170, 20)
UNSURE_BAND = 0.15


def face_color(mask: str, mask_score: float) -> tuple[int, int, int]:
    if abs(mask_score - 0.5) < UNSURE_BAND:
        return COLOR_UNSURE
    return COLOR_WITH if mask == WITH_MASK else COLOR_WITHOUT


def annotate(image: np.ndarray, analysis: Analysis) -> np.ndarray:
    """A copy of the RGB image with every face's box and a label (mask state, identity)."""
    out = image.copy()
    h, w = out.shape[:2]
    thickness = max(1, round(max(h, w) / 400))
    font_scale = max(0.35, max(h, w) / 1400)
    for face in analysis.faces:
        x1, y1, x2, y2 = (int(round(v)) for v in face.box)
        color = face_color(face.mask, face.mask_score)
        cv2.rectangle(out, (x1, y1), (x2, y2), color, thickness, cv2.LINE_AA)
        label = "mask" if face.mask == WITH_MASK else "no mask"
        label += f" {max(face.mask_score, 1 - face.mask_score):.0%}"
        if face.identity:
            label = f"{face.identity}: {label}"
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
        ty = y1 - 2 if y1 - th - base - 2 >= 0 else min(h - 1, y2 + th + base + 2)
        cv2.rectangle(out, (x1, ty - th - base), (min(w - 1, x1 + tw + 2), ty + 1), color, -1)
        cv2.putText(
            out, label, (x1 + 1, ty - base + 1), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (255, 255, 255), 1, cv2.LINE_AA
        )
    return out
