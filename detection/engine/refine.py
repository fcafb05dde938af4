"""Geometry shared by accurate mode's fitted parts (benchmarks/rescorer.py fits them).

* `landmark_box`: maps a detector box and its five landmarks onto the annotation convention
  (boxes lower and shorter than the detectors'), better than one fixed shift because the
  landmarks say where the chin and brow are. Its weights live in the re-scorer's model file.
* `box_iou`, `logit`: the re-scorer's agreement features.
"""

from __future__ import annotations

import numpy as np

from detection.engine.types import Box, Detection


def logit(p: np.ndarray | float) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def box_intersection(box: Box, boxes: np.ndarray) -> np.ndarray:
    """Area shared by one box and each row of `boxes` (x1 y1 x2 y2)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    return ix * iy


def pair_iou(a: Box, b: Box) -> float:
    """IoU of two boxes (x1 y1 x2 y2) in plain Python: per-pair callers such as the per-frame tracker
    skip numpy's overhead; `box_iou` serves one box against many."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def box_iou(box: Box, boxes: np.ndarray) -> np.ndarray:
    """IoU of one box with each row of `boxes` (x1 y1 x2 y2)."""
    if len(boxes) == 0:
        return np.zeros(0)
    inter = box_intersection(box, boxes)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum((box[2] - box[0]) * (box[3] - box[1]) + areas - inter, 1e-9)


def box_features(det: Detection) -> np.ndarray:
    x1, y1, x2, y2 = det.box
    w, h = max(x2 - x1, 1e-6), max(y2 - y1, 1e-6)
    rel = ((det.landmarks - (x1, y1)) / (w, h)).reshape(-1)
    return np.concatenate([rel, [np.log(h) - 3, w / h, 1.0]])


def landmark_box(det: Detection, weights: np.ndarray, width: int, height: int) -> Box:
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
