"""Accurate mode's learned re-scorer: which RetinaFace candidates are faces a person would label.

RetinaFace keeps candidates down to a low score; most of the faces it misses at its usual threshold
are among them, next to many non-faces. A small gradient-boosted tree model re-scores every
candidate from what the engine already knows about it: the detector passes' scores, the mask
classifier's probability on its crop, how sharp the crop is, where its landmarks sit, its size
against the photo and against the other confident faces of the photo.

The trees are fitted with scikit-learn (`benchmarks/rescorer.py`, cross-fitted by photo) and
exported to a JSON file evaluated here with numpy alone, so the engine needs no pickle and no
scikit-learn at run time. `candidate_features` is the one definition of the features, used both
when the benchmark caches candidates and at run time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from detection.engine.detectors import DetectorConfig
from detection.engine.detectors.base import nms
from detection.engine.refine import box_iou, logit
from detection.engine.types import Detection

DEFAULT_RESCORER = Path(__file__).resolve().parent / "models" / "rescorer.json"

#: A candidate matches another pass's detection at this IoU.
AGREE_IOU = 0.5
#: Candidates of several detector passes are merged by suppression at this IoU.
MERGE_IOU = 0.4
#: A candidate scoring at least this in the first pass counts as a confident face for crowd context.
CONFIDENT = 0.8

CANDIDATE_FEATURES = (
    "log_height_px",
    "height_over_image",
    "aspect",
    "centre_y_over_image",
    "eye_distance_over_width",
    "nose_offset",
    "mouth_eye_gap_over_height",
    "mask_probability",
    "sharpness",
    "contrast",
    "confident_faces",
    "log_height_over_confident_median",
    "overlap_with_better",
    "rank_fraction",
    *(f"landmark_{i}" for i in range(10)),
)


def pass_feature_names(passes: Sequence[DetectorConfig]) -> tuple[str, ...]:
    """One agreement feature per detector pass, named after it."""
    return tuple(f"score_{p.backend}_{p.input_scale:g}x" for p in passes)


def merge_passes(passes: Sequence[list[Detection]], candidate_passes: int) -> list[Detection]:
    """Candidates: the first `candidate_passes` passes' detections, merged by suppression, best first."""
    pooled = [d for detections in passes[:candidate_passes] for d in detections]
    if candidate_passes == 1 or not pooled:
        return sorted(pooled, key=lambda d: -d.score)
    boxes = np.array([d.box for d in pooled], dtype=np.float64)
    scores = np.array([d.score for d in pooled])
    keep = nms(boxes, scores, 0.0, MERGE_IOU)
    return sorted((pooled[i] for i in keep), key=lambda d: -d.score)


def crop_quality(crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sharpness, contrast) of each classifier crop: log Laplacian variance and grey-level spread."""
    sharp, spread = np.zeros(len(crops)), np.zeros(len(crops))
    for i, crop in enumerate(crops):
        grey = cv2.cvtColor(np.asarray(crop, dtype=np.uint8), cv2.COLOR_RGB2GRAY)
        sharp[i] = np.log1p(cv2.Laplacian(grey, cv2.CV_32F).var())
        spread[i] = grey.std() / 64.0
    return sharp, spread


def candidate_features(
    candidates: Sequence[Detection],
    passes: Sequence[list[Detection]],
    mask_probabilities: np.ndarray,
    quality: tuple[np.ndarray, np.ndarray],
    width: int,
    height: int,
) -> np.ndarray:
    """Feature matrix (N, len(passes) + len(CANDIDATE_FEATURES)), rows in candidate order.

    `quality` is `crop_quality` of the candidates' classifier crops.
    """
    n = len(candidates)
    out = np.zeros((n, len(passes) + len(CANDIDATE_FEATURES)))
    if n == 0:
        return out
    boxes = np.array([d.box for d in candidates], dtype=np.float64)
    for j, detections in enumerate(passes):
        others = np.array([d.box for d in detections], dtype=np.float64).reshape(-1, 4)
        scores = np.array([d.score for d in detections])
        for i, box in enumerate(boxes):
            agree = box_iou(box, others) >= AGREE_IOU
            out[i, j] = logit(scores[agree].max()) if agree.any() else logit(0.0)
    first = passes[0] if passes else []
    confident = np.array([d.height for d in first if d.score >= CONFIDENT])
    median = float(np.median(confident)) if len(confident) else 0.0
    sharp, spread = quality
    f = out[:, len(passes) :]
    for i, det in enumerate(candidates):
        x1, y1, x2, y2 = det.box
        w, h = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
        rel = (det.landmarks - (x1, y1)) / (w, h)
        eye_gap = float(np.hypot(*(rel[1] - rel[0])))
        eyes_mid, mouth_mid = (rel[0] + rel[1]) / 2, (rel[3] + rel[4]) / 2
        better = boxes[:i]
        f[i] = (
            np.log(h),
            h / height,
            w / h,
            (y1 + y2) / 2 / height,
            eye_gap,
            (rel[2, 0] - eyes_mid[0]) / max(eye_gap, 1e-3),
            mouth_mid[1] - eyes_mid[1],
            mask_probabilities[i],
            sharp[i],
            spread[i],
            np.log1p(len(confident)),
            np.log(h / median) if median else 0.0,
            box_iou(det.box, better).max() if len(better) else 0.0,
            i / n,
            *rel.reshape(-1),
        )
    return out


@dataclass(frozen=True)
class TreeEnsemble:
    """Binary gradient-boosted trees as flat arrays: P(face) = sigmoid(baseline + sum of leaf values).

    Node arrays, one row per node over all trees: feature, threshold, missing goes left, left child,
    right child (absolute indices), leaf flag, value. `roots` holds each tree's first node.
    """

    baseline: float
    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    left: np.ndarray
    right: np.ndarray
    leaf: np.ndarray
    value: np.ndarray
    roots: np.ndarray

    @classmethod
    def from_dict(cls, data: dict) -> TreeEnsemble:
        nodes = data["nodes"]
        return cls(
            baseline=float(data["baseline"]),
            feature=np.asarray(nodes["feature"], dtype=np.int64),
            threshold=np.asarray(nodes["threshold"], dtype=np.float64),
            missing_left=np.asarray(nodes["missing_left"], dtype=bool),
            left=np.asarray(nodes["left"], dtype=np.int64),
            right=np.asarray(nodes["right"], dtype=np.int64),
            leaf=np.asarray(nodes["leaf"], dtype=bool),
            value=np.asarray(nodes["value"], dtype=np.float64),
            roots=np.asarray(data["roots"], dtype=np.int64),
        )

    @classmethod
    def from_sklearn(cls, model: Any) -> TreeEnsemble:
        """The trees of a fitted binary `HistGradientBoostingClassifier` (read from its predictors;
        the benchmark checks the export against `predict_proba`)."""
        fields: dict[str, list] = {
            k: [] for k in ("feature", "threshold", "missing_left", "left", "right", "leaf", "value")
        }
        roots, offset = [], 0
        for (predictor,) in model._predictors:
            nodes = predictor.nodes
            roots.append(offset)
            fields["feature"].extend(nodes["feature_idx"].tolist())
            fields["threshold"].extend(nodes["num_threshold"].tolist())
            fields["missing_left"].extend(nodes["missing_go_to_left"].astype(bool).tolist())
            fields["left"].extend((nodes["left"] + offset).tolist())
            fields["right"].extend((nodes["right"] + offset).tolist())
            fields["leaf"].extend(nodes["is_leaf"].astype(bool).tolist())
            fields["value"].extend(nodes["value"].tolist())
            offset += len(nodes)
        return cls(
            baseline=float(np.ravel(model._baseline_prediction)[0]),
            feature=np.asarray(fields["feature"], dtype=np.int64),
            threshold=np.asarray(fields["threshold"], dtype=np.float64),
            missing_left=np.asarray(fields["missing_left"], dtype=bool),
            left=np.asarray(fields["left"], dtype=np.int64),
            right=np.asarray(fields["right"], dtype=np.int64),
            leaf=np.asarray(fields["leaf"], dtype=bool),
            value=np.asarray(fields["value"], dtype=np.float64),
            roots=np.asarray(roots, dtype=np.int64),
        )

    def to_dict(self) -> dict:
        return {
            "baseline": self.baseline,
            "roots": self.roots.tolist(),
            "nodes": {
                "feature": self.feature.tolist(),
                "threshold": self.threshold.tolist(),
                "missing_left": self.missing_left.astype(int).tolist(),
                "left": self.left.tolist(),
                "right": self.right.tolist(),
                "leaf": self.leaf.astype(int).tolist(),
                "value": self.value.tolist(),
            },
        }

    def predict(self, x: np.ndarray) -> np.ndarray:
        """P(face) per row of `x`: all rows descend all trees at once, one level per step."""
        x = np.asarray(x, dtype=np.float64)
        if len(x) == 0:
            return np.zeros(0)
        rows = np.repeat(np.arange(len(x)), len(self.roots))
        node = np.tile(self.roots, len(x))
        while True:
            inner = ~self.leaf[node]
            if not inner.any():
                break
            idx = np.flatnonzero(inner)
            n, r = node[idx], rows[idx]
            v = x[r, self.feature[n]]
            go_left = np.where(np.isnan(v), self.missing_left[n], v <= self.threshold[n])
            node[idx] = np.where(go_left, self.left[n], self.right[n])
        raw = self.baseline + self.value[node].reshape(len(x), len(self.roots)).sum(axis=1)
        return 1.0 / (1.0 + np.exp(-raw))


@dataclass(frozen=True)
class Rescorer:
    """The committed re-scorer: its detector passes, its trees, its operating threshold and the
    landmark box regression (`refine.landmark_box`) fitted with it.

    `big_face` and `big_face_score`: a candidate taller than this fraction of the photo with at
    least this detector score is a face filling the frame and is kept whatever the trees say (on
    such close-ups the second opinions miss the oversized face).
    """

    passes: tuple[DetectorConfig, ...]
    candidate_passes: int
    trees: TreeEnsemble
    threshold: float
    box_regression: np.ndarray
    big_face: float = 0.4
    big_face_score: float = 0.5

    @classmethod
    def load(cls, path: str | Path = DEFAULT_RESCORER) -> Rescorer:
        """Read a re-scorer file; raises ValueError when it does not describe this engine's features."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"re-scorer model not found: {path}")
        data = json.loads(path.read_text())
        passes = tuple(DetectorConfig(**p) for p in data["passes"])
        expected = [*pass_feature_names(passes), *CANDIDATE_FEATURES]
        if data.get("features") != expected:
            raise ValueError(f"{path} was fitted on other features than this engine computes")
        return cls(
            passes=passes,
            candidate_passes=int(data["candidate_passes"]),
            trees=TreeEnsemble.from_dict(data["trees"]),
            threshold=float(data["threshold"]),
            box_regression=np.asarray(data["box_regression"], dtype=np.float64),
            big_face=float(data.get("big_face", 0.4)),
            big_face_score=float(data.get("big_face_score", 0.5)),
        )

    def keep(self, candidates: Sequence[Detection], probabilities: np.ndarray, image_height: int) -> np.ndarray:
        """Which candidates are reported: the trees' verdict, or a confident face filling the frame."""
        big = np.array(
            [d.height >= self.big_face * image_height and d.score >= self.big_face_score for d in candidates],
            dtype=bool,
        )
        return (np.asarray(probabilities) >= self.threshold) | big
