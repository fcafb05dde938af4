"""Detect faces, classify masks, recognise people: the one entry point of the engine.

Uploads, batches, the live stream, the CLI and the registry all call `Pipeline.analyze`, and
`Analysis.to_dict` is the one JSON shape they all emit.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from os import PathLike
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from detection.engine.classifier import DEFAULT_MODEL, MaskClassifier
from detection.engine.detectors import DetectorConfig, FaceDetector, create_detector
from detection.engine.detectors.base import check_rgb
from detection.engine.gallery import Gallery, Match
from detection.engine.recognizers import FaceRecognizer, create_recognizer
from detection.engine.refine import RETINAFACE_BOX_REGRESSION, ConfirmConfig, confirm, landmark_box, needs_confirmation
from detection.engine.types import Box, Detection

MODES = ("accurate", "fast")
NO_ADJUST: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)


@dataclass(frozen=True)
class PipelineConfig:
    """Everything that changes what the pipeline computes.

    `box_adjust` = (centre x shift, centre y shift, width factor, height factor), relative to the
    detector's box, maps detector boxes onto the annotation convention of photo datasets (their
    boxes sit lower and are shorter); it changes only the reported box, never the crop.
    `box_regression`, when set, replaces it with a regression from the five landmarks
    (`refine.landmark_box`). `confirm`, when set, re-scores the detector's uncertain faces with a
    second detector (`refine.confirm`).
    `num_threads` is per model call; OpenCV's thread count is process-wide, so loading a pipeline
    sets it for the whole process.
    """

    mode: str = "accurate"
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    box_adjust: tuple[float, float, float, float] = NO_ADJUST
    box_regression: tuple[tuple[float, float, float, float], ...] | None = None
    confirm: ConfirmConfig | None = None
    classifier_path: Path = DEFAULT_MODEL
    mask_threshold: float = 0.5
    recognizer: str = "sface"
    num_threads: int = 1

    @classmethod
    def preset(cls, mode: str = "accurate", **overrides: Any) -> PipelineConfig:
        """The tuned `fast` (live video) or `accurate` (uploads) configuration."""
        if mode not in PRESETS:
            raise ValueError(f"unknown mode {mode!r}; choose one of {MODES}")
        return replace(PRESETS[mode], **overrides)

    def with_box_adjust(self, adjust: tuple[float, float, float, float]) -> PipelineConfig:
        return replace(self, box_adjust=adjust, box_regression=None)

    def reported_box(self, detection: Detection, width: int, height: int) -> Box:
        """The box callers see: the detector's, moved onto the annotation convention."""
        if self.box_regression is not None:
            return landmark_box(detection, self.box_regression, width, height)
        return adjust_box(detection.box, self.box_adjust, width, height)


# Chosen on mask-detection-dev (benchmarks/detection_accuracy.py): RetinaFace at up to 2.5x finds
# small faces best; the pixel budget holds a 640x480 frame to ~1.4x (about 50 ms of one core).
# Its candidates scoring 0.3-0.95 are confirmed by CenterFace (run only when there is such a
# candidate: ~0.1 s more on a small photo with uncertain faces, nothing on a clear frame) and
# re-scored, and boxes come from the landmark regression; all fitted on the even half.
# YuNet on at most 120k pixels is the live-video mode (about 6 ms), score 0.6.
PRESETS: dict[str, PipelineConfig] = {
    "accurate": PipelineConfig(
        mode="accurate",
        detector=DetectorConfig(
            backend="retinaface", input_scale=2.5, max_input_pixels=600_000, score_threshold=0.3, nms_threshold=0.4
        ),
        box_regression=RETINAFACE_BOX_REGRESSION,
        confirm=ConfirmConfig(),
    ),
    "fast": PipelineConfig(
        mode="fast",
        detector=DetectorConfig(
            backend="yunet", input_scale=1.0, max_input_pixels=120_000, score_threshold=0.6, nms_threshold=0.3,
            fast_downscale=True,
        ),
        box_adjust=(0.023, 0.133, 1.051, 0.911),
    ),
}


@dataclass(frozen=True)
class FaceResult:
    """One analysed face. `box` is the reported (adjusted) box; `detection` the raw detector output."""

    box: Box
    score: float
    keypoints: np.ndarray = field(repr=False)
    mask: str
    mask_score: float
    identity: str | None
    distance: float | None
    detection: Detection = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "box": [int(round(v)) for v in self.box],
            "score": round(float(self.score), 4),
            "mask": self.mask,
            "mask_score": round(float(self.mask_score), 4),
            "identity": self.identity,
            "distance": None if self.distance is None else round(float(self.distance), 4),
        }


@dataclass
class Analysis:
    """Result of one image: its size, the faces, and milliseconds per stage."""

    width: int
    height: int
    faces: list[FaceResult]
    timings_ms: dict[str, float]

    def add_decode_time(self, milliseconds: float) -> None:
        """Account for decoding done by the caller before `Pipeline.analyze`."""
        self.timings_ms["decode"] = self.timings_ms.get("decode", 0.0) + milliseconds
        self.timings_ms["total"] = self.timings_ms.get("total", 0.0) + milliseconds

    def to_dict(self, image: str | None = None) -> dict[str, Any]:
        """The JSON object of `analyze --json`, the REST API and the live stream."""
        out: dict[str, Any] = {} if image is None else {"image": image}
        out.update(
            {
                "width": int(self.width),
                "height": int(self.height),
                "faces": [f.to_dict() for f in self.faces],
                "timings_ms": {k: round(float(self.timings_ms.get(k, 0.0)), 2) for k in TIMING_KEYS},
            }
        )
        return out


TIMING_KEYS = ("decode", "detect", "classify", "recognize", "total")


def adjust_box(box: Box, adjust: tuple[float, float, float, float], width: int, height: int) -> Box:
    """Shift and scale a box relative to its own size, clipped to the image."""
    dx, dy, sw, sh = adjust
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    cx, cy = (x1 + x2) / 2 + dx * w, (y1 + y2) / 2 + dy * h
    w, h = w * sw, h * sh
    return (max(0.0, cx - w / 2), max(0.0, cy - h / 2), min(float(width), cx + w / 2), min(float(height), cy + h / 2))


class Pipeline:
    """Thread-safe; models load lazily on first use, once; `reload` swaps the classifier atomically."""

    def __init__(self, config: PipelineConfig | None = None, *, gallery: Gallery | None = None) -> None:
        self.config = config or PipelineConfig.preset("accurate")
        self._lock = threading.Lock()
        self._detector: FaceDetector | None = None
        self._confirmer: FaceDetector | None = None
        self._classifier: MaskClassifier | None = None
        self._recognizer: FaceRecognizer | None = None
        self._gallery: Gallery | None = None
        if gallery is not None:
            self.set_gallery(gallery)

    # -- models -----------------------------------------------------------------------------
    @property
    def detector(self) -> FaceDetector:
        if self._detector is None:
            with self._lock:
                if self._detector is None:
                    cv2.setNumThreads(self.config.num_threads)
                    self._detector = create_detector(replace(self.config.detector, num_threads=self.config.num_threads))
        return self._detector

    @property
    def confirmer(self) -> FaceDetector | None:
        """The second-opinion detector of `config.confirm` (None when the mode has none)."""
        if self.config.confirm is None:
            return None
        if self._confirmer is None:
            with self._lock:
                if self._confirmer is None:
                    config = replace(self.config.confirm.detector, num_threads=self.config.num_threads)
                    self._confirmer = create_detector(config)
        return self._confirmer

    @property
    def classifier(self) -> MaskClassifier:
        if self._classifier is None:
            with self._lock:
                if self._classifier is None:
                    self._classifier = self._load_classifier(self.config.classifier_path)
        return self._classifier

    @property
    def recognizer(self) -> FaceRecognizer:
        if self._recognizer is None:
            with self._lock:
                if self._recognizer is None:
                    self._recognizer = create_recognizer(self.config.recognizer)
        return self._recognizer

    def load(self, *, recognizer: bool = False) -> None:
        """Load the models now instead of on the first image (raises if one is missing or broken)."""
        _ = self.detector, self.confirmer, self.classifier
        if recognizer:
            _ = self.recognizer

    def _load_classifier(self, path: str | PathLike[str]) -> MaskClassifier:
        return MaskClassifier(path, num_threads=self.config.num_threads, threshold=self.config.mask_threshold)

    def reload(self, classifier_path: str | PathLike[str] | None = None) -> None:
        """Load a (new) classifier file and swap it in; analyses already running finish on the old one.

        A broken file raises here and leaves the current classifier in place.
        """
        path = Path(classifier_path) if classifier_path is not None else self.config.classifier_path
        classifier = self._load_classifier(path)
        with self._lock:
            self._classifier = classifier
            self.config = replace(self.config, classifier_path=path)

    def new_gallery(self, threshold: float | None = None, variant_threshold: float | None = None) -> Gallery:
        """An empty gallery matching this pipeline's recognizer (metric and tuned thresholds)."""
        rec = self.recognizer
        return Gallery(
            metric=rec.metric,
            threshold=rec.default_threshold if threshold is None else threshold,
            variant_threshold=rec.default_variant_threshold if variant_threshold is None else variant_threshold,
            recognizer=rec.name,
        )

    def set_gallery(self, gallery: Gallery | None) -> None:
        """Use this gallery for identities from the next analysis on (None: no recognition)."""
        if gallery is not None and gallery.recognizer != self.config.recognizer:
            raise ValueError(
                f"gallery was built with {gallery.recognizer!r} embeddings, pipeline uses {self.config.recognizer!r}"
            )
        self._gallery = gallery

    @property
    def gallery(self) -> Gallery | None:
        return self._gallery

    # -- analysis ---------------------------------------------------------------------------
    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces, best first, confirmed by the second detector when the mode has one."""
        detections = self.detector.detect(image)
        settings, confirmer = self.config.confirm, self.confirmer
        if settings is not None and confirmer is not None and needs_confirmation(detections, settings):
            detections = confirm(detections, confirmer.detect(image), settings)
        return detections

    def embed(self, image: np.ndarray, face: Detection | None = None) -> np.ndarray:
        """Embedding of `face`, or of the largest face in the image (for enrolment).

        Raises ValueError when the image has no face.
        """
        check_rgb(image)
        if face is None:
            faces = self.detect(image)
            if not faces:
                raise ValueError("no face found in the image")
            face = max(faces, key=lambda d: d.width * d.height)
        return self.recognizer.embed(image, face)

    def analyze(self, image: np.ndarray, *, recognize: bool = True) -> Analysis:
        """Faces with mask state (and identity when a gallery is set and `recognize`)."""
        check_rgb(image)
        start = time.perf_counter()
        classifier, gallery = self.classifier, self._gallery
        h, w = image.shape[:2]
        detections = self.detect(image)
        t_detect = time.perf_counter()
        probabilities = classifier.predict(image, [d.box for d in detections])
        t_classify = time.perf_counter()
        matches: list[Match] = [Match(None, None)] * len(detections)
        if recognize and gallery is not None and len(gallery) and detections:
            matches = gallery.match(self.recognizer.embed_many(image, detections))
        t_recognize = time.perf_counter()
        faces = [
            FaceResult(
                box=self.config.reported_box(det, w, h),
                score=det.score,
                keypoints=det.landmarks,
                mask=classifier.label(float(p)),
                mask_score=float(p),
                identity=m.identity,
                distance=m.distance,
                detection=det,
            )
            for det, p, m in zip(detections, probabilities, matches, strict=True)
        ]
        return Analysis(
            width=w,
            height=h,
            faces=faces,
            timings_ms={
                "decode": 0.0,
                "detect": (t_detect - start) * 1000,
                "classify": (t_classify - t_detect) * 1000,
                "recognize": (t_recognize - t_classify) * 1000,
                "total": (t_recognize - start) * 1000,
            },
        )


_shared: dict[str, Pipeline] = {}
_shared_lock = threading.Lock()


def get_pipeline(mode: str = "accurate") -> Pipeline:
    """The process-wide pipeline for a mode, so every caller shares one set of loaded models."""
    with _shared_lock:
        if mode not in _shared:
            _shared[mode] = Pipeline(PipelineConfig.preset(mode))
        return _shared[mode]
