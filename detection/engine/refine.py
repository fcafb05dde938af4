"""Accurate-mode refinements fitted on the even half of mask-detection-dev (odd half held out).

* `confirm`: RetinaFace candidates it is unsure of are re-scored by a tiny logistic model over
  (its score, face size, CenterFace's agreement), so the second detector runs only on images
  that have such a candidate. Many unconfirmed "faces" are real faces annotators skipped; the
  model learns which ones photo datasets label.
* `landmark_box`: maps a detector box and its five landmarks onto the annotation convention
  (boxes lower and shorter than the detectors'), better than one fixed shift because the
  landmarks say where the chin and brow are.
Fitting and figures: benchmarks/detection_accuracy.py (see its --fit option).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from detection.engine.detectors import DetectorConfig
from detection.engine.types import Box, Detection


@dataclass(frozen=True)
class ConfirmConfig:
    """Re-score candidates scoring below `uncertain_below` with `weights` over
    (logit score, log(height px) - 3, logit CenterFace agreement, 1); keep final scores >= `threshold`."""

    detector: DetectorConfig = field(
        default_factory=lambda: DetectorConfig(
            backend="centerface", input_scale=2.0, max_input_pixels=600_000, score_threshold=0.2, nms_threshold=0.3
        )
    )
    uncertain_below: float = 0.95
    weights: tuple[float, float, float, float] = (0.66, 0.235, 0.317, -0.015)
    threshold: float = 0.52
    agree_iou: float = 0.5


def logit(p: np.ndarray | float) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def box_iou(box: Box, boxes: np.ndarray) -> np.ndarray:
    """IoU of one box with each row of `boxes` (x1 y1 x2 y2)."""
    if len(boxes) == 0:
        return np.zeros(0)
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = ix * iy
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum((box[2] - box[0]) * (box[3] - box[1]) + areas - inter, 1e-9)


def needs_confirmation(detections: list[Detection], config: ConfirmConfig) -> bool:
    return any(d.score < config.uncertain_below for d in detections)


def confirm(detections: list[Detection], second: list[Detection], config: ConfirmConfig) -> list[Detection]:
    """Detections kept after re-scoring the uncertain ones (their score becomes the model's), best first."""
    others = np.array([d.box for d in second], dtype=np.float64).reshape(-1, 4)
    other_scores = np.array([d.score for d in second])
    w = np.asarray(config.weights)
    kept = []
    for det in detections:
        if det.score >= config.uncertain_below:
            kept.append(det)
            continue
        overlap = box_iou(det.box, others)
        agree = float(other_scores[overlap >= config.agree_iou].max()) if (overlap >= config.agree_iou).any() else 0.0
        features = np.array([logit(det.score), np.log(max(det.height, 1.0)) - 3, logit(agree), 1.0])
        score = float(1 / (1 + np.exp(-features @ w)))
        if score >= config.threshold:
            kept.append(replace(det, score=score))
    kept.sort(key=lambda d: -d.score)
    return kept


#: RetinaFace: (centre x, centre y, log width, log height) change, relative to the box, from
#: (10 landmark coordinates relative to the box, log(height px) - 3, width / height, 1).
RETINAFACE_BOX_REGRESSION: tuple[tuple[float, float, float, float], ...] = (
    (0.0041, 0.1105, -0.1114, 0.1468),
    (0.0525, 0.0675, -0.0179, -0.1551),
    (-0.08, -0.0933, 0.0081, -0.1687),
    (-0.025, 0.1134, -0.0167, -0.1104),
    (0.0628, -0.0277, 0.0054, -0.0377),
    (-0.0387, 0.0178, 0.0111, -0.2811),
    (0.1209, 0.076, -0.0903, 0.1573),
    (0.0458, -0.008, -0.0376, -0.0806),
    (0.0636, -0.0406, 0.1072, -0.052),
    (-0.0073, 0.0302, -0.0325, -0.0518),
    (-0.0199, 0.0006, -0.0377, -0.027),
    (-0.0559, 0.057, 0.083, 0.1978),
    (-0.0015, 0.0358, 0.0462, 0.2103),
)


def box_features(det: Detection) -> np.ndarray:
    x1, y1, x2, y2 = det.box
    w, h = max(x2 - x1, 1e-6), max(y2 - y1, 1e-6)
    rel = ((det.landmarks - (x1, y1)) / (w, h)).reshape(-1)
    return np.concatenate([rel, [np.log(h) - 3, w / h, 1.0]])


def landmark_box(det: Detection, weights: tuple[tuple[float, ...], ...], width: int, height: int) -> Box:
    """The detection's box moved and resized as the landmark regression says, clipped to the image."""
    dx, dy, dw, dh = box_features(det) @ np.asarray(weights)
    x1, y1, x2, y2 = det.box
    w, h = x2 - x1, y2 - y1
    cx, cy = (x1 + x2) / 2 + dx * w, (y1 + y2) / 2 + dy * h
    w, h = w * np.exp(dw), h * np.exp(dh)
    return (
        max(0.0, float(cx - w / 2)),
        max(0.0, float(cy - h / 2)),
        min(float(width), float(cx + w / 2)),
        min(float(height), float(cy + h / 2)),
    )
