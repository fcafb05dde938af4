"""The detector interface: every back end returns `Detection`s in pixels of the original image."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import cv2
import numpy as np

from detection.engine.types import Detection

T = TypeVar("T")


@dataclass(frozen=True)
class DetectorConfig:
    """How to run a detector.

    `input_scale` enlarges (or shrinks) the image before detection: small faces need 2x. The
    scaled image never has more than `max_input_pixels`, so the cost per image is bounded and
    big uploads are shrunk instead. `fast_downscale` shrinks by bilinear sampling instead of
    pixel-area averaging when the factor is at least 1/2: a tenth of the cost (0.1 ms instead of
    1.8 ms for a 640x480 frame), AP 0.1 point lower on the dev photos enlarged 1.6x.
    """

    backend: str = "yunet"
    input_scale: float = 1.0
    max_input_pixels: int = 2_000_000
    score_threshold: float = 0.5
    nms_threshold: float = 0.3
    num_threads: int = 1
    fast_downscale: bool = False


class ThreadLocal(Generic[T]):
    """One lazily built model object per thread: OpenCV nets and LiteRT interpreters are not
    safe to call from several threads at once, and a per-thread copy avoids a global lock."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._local = threading.local()

    def get(self) -> T:
        value = getattr(self._local, "value", None)
        if value is None:
            value = self._factory()
            self._local.value = value
        return value


def check_rgb(image: np.ndarray) -> None:
    """Raise ValueError unless `image` is an H x W x 3 uint8 array with pixels."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError("expected an RGB uint8 numpy array")
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"expected an H x W x 3 RGB image, got shape {image.shape}")


class FaceDetector(ABC):
    """Scale the image, run the back end, map its results back to original pixels."""

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config

    def scale_for(self, height: int, width: int) -> float:
        return min(self.config.input_scale, (self.config.max_input_pixels / (height * width)) ** 0.5)

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        """All faces in the image, best score first."""
        check_rgb(image_rgb)
        h, w = image_rgb.shape[:2]
        scale = self.scale_for(h, w)
        if abs(scale - 1.0) > 1e-6:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            area = scale < 1 and not (self.config.fast_downscale and scale >= 0.5)
            interpolation = cv2.INTER_AREA if area else cv2.INTER_LINEAR
            scaled = cv2.resize(image_rgb, size, interpolation=interpolation)
            sx, sy = size[0] / w, size[1] / h
        else:
            scaled, sx, sy = image_rgb, 1.0, 1.0
        boxes, scores, landmarks = self._detect(scaled)
        detections = []
        for box, score, points in zip(boxes, scores, landmarks, strict=True):
            x1, y1, x2, y2 = (float(v) for v in box)
            x1, x2 = max(0.0, x1 / sx), min(float(w), x2 / sx)
            y1, y2 = max(0.0, y1 / sy), min(float(h), y2 / sy)
            if x2 - x1 < 1 or y2 - y1 < 1:
                continue
            pts = (np.asarray(points, dtype=np.float32).reshape(5, 2) / (sx, sy)).astype(np.float32)
            detections.append(Detection(box=(x1, y1, x2, y2), score=float(score), landmarks=pts))
        detections.sort(key=lambda d: -d.score)
        return detections

    @abstractmethod
    def _detect(self, image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes (N, 4) x1 y1 x2 y2, scores (N,), landmarks (N, 10) in the given image's pixels."""


def padded_bgr_blob(image_rgb: np.ndarray, multiple: int, mean: np.ndarray | None = None) -> np.ndarray:
    """A 1 x 3 x H x W float32 BGR blob (`mean` subtracted), zero-padded right and bottom so both
    sides divide by `multiple`, as RetinaFace and YuNet take their input."""
    h, w = image_rgb.shape[:2]
    blob = np.zeros((1, 3, -(-h // multiple) * multiple, -(-w // multiple) * multiple), dtype=np.float32)
    planes = blob[0, :, :h, :w]
    for plane, channel in zip(planes, (2, 1, 0), strict=True):  # a plane at a time: 3-8x faster than
        plane[:] = image_rgb[:, :, channel]  # casting the interleaved image and transposing it
    if mean is not None:
        planes -= np.asarray(mean, dtype=np.float32).reshape(3, 1, 1)
    return blob


def nms(boxes: np.ndarray, scores: np.ndarray, score_threshold: float, iou: float) -> np.ndarray:
    """Indices kept by non-maximum suppression (boxes as x1 y1 x2 y2)."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    xywh = np.column_stack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]]).tolist()
    keep = cv2.dnn.NMSBoxes(xywh, scores.astype(float).tolist(), score_threshold, iou)
    return np.asarray(keep, dtype=np.int64).reshape(-1)
