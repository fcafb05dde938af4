"""The recognizer interface: one embedding per detected face, compared by a fixed metric."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from detection.engine.types import Detection


class FaceRecognizer(ABC):
    """Turns a detected face into a float32 embedding; `metric` says how galleries compare them.

    `distance` is Euclidean for "euclidean" and 1 - cosine similarity for "cosine", so for
    both a smaller value means more alike and a gallery threshold is an upper bound.
    """

    name: str
    dimension: int
    metric: str
    #: Distance threshold tuned on face-recognition-dev (see benchmarks/recognition_accuracy.py).
    default_threshold: float
    #: Stricter threshold for drawn-mask enrolment variants (masked faces resemble each other).
    default_variant_threshold: float

    @abstractmethod
    def embed_many(self, image_rgb: np.ndarray, detections: Sequence[Detection]) -> np.ndarray:
        """(N, dimension) float32 embeddings, one per detection, in order."""

    def embed(self, image_rgb: np.ndarray, face: Detection) -> np.ndarray:
        """The embedding of one face (for enrolment)."""
        return self.embed_many(image_rgb, [face])[0]
