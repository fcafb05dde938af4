"""dlib's 128-d ResNet (the `face_recognition` package's model), on the detector's boxes."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from detection.engine.recognizers.base import FaceRecognizer
from detection.engine.types import Detection


class DlibRecognizer(FaceRecognizer):
    name = "dlib"
    dimension = 128
    metric = "euclidean"
    # Euclidean. dlib's customary 0.6 accepts 41% of unknown faces on face-recognition-dev; 0.42
    # keeps false accepts under 1% but identifies only 38% of known probes (SFace is the default).
    default_threshold = 0.42
    default_variant_threshold = 0.3

    def __init__(self, num_jitters: int = 1) -> None:
        import face_recognition  # loads dlib's models once, at import

        self._fr = face_recognition
        self._num_jitters = num_jitters
        # dlib's shape predictor and network objects are shared module globals: serialise calls.
        self._lock = threading.Lock()

    def embed_many(self, image_rgb: np.ndarray, detections: Sequence[Detection]) -> np.ndarray:
        out = np.zeros((len(detections), self.dimension), dtype=np.float32)
        if not detections:
            return out
        h, w = image_rgb.shape[:2]
        locations = []
        for det in detections:
            x1, y1, x2, y2 = det.box
            locations.append((max(0, round(y1)), min(w - 1, round(x2)), min(h - 1, round(y2)), max(0, round(x1))))
        with self._lock:
            encodings = self._fr.face_encodings(
                np.ascontiguousarray(image_rgb),
                known_face_locations=locations,
                num_jitters=self._num_jitters,
                model="small",
            )
        for i, enc in enumerate(encodings):
            out[i] = enc
        return out
