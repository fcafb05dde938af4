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

from detection.engine.classifier import DEFAULT_MODEL, MaskClassifier, light_gains
from detection.engine.crops import whole_image_box
from detection.engine.detectors import DetectorConfig, FaceDetector, create_detector
from detection.engine.detectors.base import check_rgb
from detection.engine.gallery import Gallery, Match
from detection.engine.recognizers import FaceRecognizer, create_recognizer
from detection.engine.refine import box_intersection, box_iou, landmark_box
from detection.engine.rescore import DEFAULT_RESCORER, Rescorer, candidate_features, crop_quality, merge_passes
from detection.engine.types import FALLBACK_PADDED, FALLBACK_WHOLE_IMAGE, Box, Detection

MODES = ("accurate", "fast")
NO_ADJUST: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)


@dataclass(frozen=True)
class PipelineConfig:
    """Everything that changes what the pipeline computes.

    `box_adjust` = (centre x shift, centre y shift, width factor, height factor), relative to the
    detector's box, maps detector boxes onto the annotation convention of photo datasets (their
    boxes sit lower and are shorter); it changes only the reported box, never the crop.
    `rescorer`, when set, is a `rescore.Rescorer` file: its detector passes find candidates (the
    first pass must be `detector`), its trees decide which are faces and its landmark regression
    gives the reported boxes (instead of `box_adjust`). `closeup_fallback` answers for photos in
    which nothing is found although they may be a face filling the frame (see `Pipeline.closeup`).
    `num_threads` is per model call; OpenCV's thread count is process-wide, so loading a pipeline
    sets it for the whole process.
    """

    mode: str = "accurate"
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    box_adjust: tuple[float, float, float, float] = NO_ADJUST
    rescorer: Path | None = None
    closeup_fallback: bool = False
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
        return replace(self, box_adjust=adjust, rescorer=None)


# Accurate (uploads): RetinaFace at up to 2.5x (the pixel budget holds a 640x480 frame to ~1.4x)
# keeps candidates down to 0.1, and the re-scorer fitted by benchmarks/rescorer.py (cross-fitted by
# photo on mask-detection-dev) keeps the faces; see docs/engine.md.
# YuNet on at most 120k pixels is the live-video mode (about 6 ms), score 0.6.
PRESETS: dict[str, PipelineConfig] = {
    "accurate": PipelineConfig(
        mode="accurate",
        detector=DetectorConfig(
            backend="retinaface", input_scale=2.5, max_input_pixels=600_000, score_threshold=0.1, nms_threshold=0.4
        ),
        rescorer=DEFAULT_RESCORER,
        closeup_fallback=True,
    ),
    "fast": PipelineConfig(
        mode="fast",
        detector=DetectorConfig(
            backend="yunet",
            input_scale=1.0,
            max_input_pixels=120_000,
            score_threshold=0.6,
            nms_threshold=0.3,
            fast_downscale=True,
        ),
        box_adjust=(0.023, 0.133, 1.051, 0.911),
    ),
}


@dataclass(frozen=True)
class FaceResult:
    """One analysed face. `box` is the reported (adjusted) box; `detection` the raw detector output.

    `fallback` says how a close-up with no detected face was answered: None (detected as usual),
    "padded" (found after framing the photo with a border) or "whole_image" (the whole photo was
    classified as one face; its box is the photo and its score 0).
    """

    box: Box
    score: float
    keypoints: np.ndarray = field(repr=False)
    mask: str
    mask_score: float
    identity: str | None
    distance: float | None
    detection: Detection = field(repr=False)
    fallback: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "box": [int(round(v)) for v in self.box],
            "score": round(float(self.score), 4),
            "mask": self.mask,
            "mask_score": round(float(self.mask_score), 4),
            "identity": self.identity,
            "distance": None if self.distance is None else round(float(self.distance), 4),
            "fallback": self.fallback,
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
#: Close-up fallback: the border added around a photo with no face, as a fraction of its longer side;
#: the score a face found in the framed photo needs; and the largest photo (longer side, pixels)
#: still taken for a face crop and classified whole when even the framed photo shows no face.
CLOSEUP_BORDER = 0.3
CLOSEUP_MIN_SCORE = 0.5
CLOSEUP_MAX_SIDE = 400
#: A box "contains" another when this share of the other's area lies inside it.
CONTAINS_SHARE = 0.9


def _contains(outer: Box, inner: Box) -> bool:
    """Whether `inner` lies (almost) wholly inside `outer`, and `outer` is the larger box."""
    inner_area = (inner[2] - inner[0]) * (inner[3] - inner[1])
    outer_area = (outer[2] - outer[0]) * (outer[3] - outer[1])
    shared = float(box_intersection(outer, np.array([inner]))[0])
    return outer_area > inner_area > 0 and shared >= CONTAINS_SHARE * inner_area


def is_closeup_sized(width: int, height: int) -> bool:
    """Small enough to be a face crop (a portrait or a cut-out face), not a scene."""
    return max(width, height) <= CLOSEUP_MAX_SIDE


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
        self._rescorer: Rescorer | None = None
        self._extra_passes: list[FaceDetector] | None = None
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
    def rescorer(self) -> Rescorer | None:
        """The re-scorer of `config.rescorer` (None when the mode has none); raises if it does not fit."""
        if self.config.rescorer is None:
            return None
        if self._rescorer is None:
            rescorer = Rescorer.load(self.config.rescorer)
            if replace(rescorer.passes[0], num_threads=1) != replace(self.config.detector, num_threads=1):
                raise ValueError(f"{self.config.rescorer} was fitted on another detector than {self.config.detector}")
            with self._lock:
                self._rescorer = rescorer
        return self._rescorer

    @property
    def extra_passes(self) -> list[FaceDetector]:
        """The re-scorer's detector passes after the first (its second opinions)."""
        rescorer = self.rescorer
        if rescorer is None:
            return []
        if self._extra_passes is None:
            with self._lock:
                if self._extra_passes is None:
                    threads = self.config.num_threads
                    self._extra_passes = [create_detector(replace(p, num_threads=threads)) for p in rescorer.passes[1:]]
        return self._extra_passes

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
        _ = self.detector, self.extra_passes, self.classifier
        if recognizer:
            _ = self.recognizer

    def _load_classifier(self, path: str | PathLike[str]) -> MaskClassifier:
        return MaskClassifier(Path(path), num_threads=self.config.num_threads, threshold=self.config.mask_threshold)

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
    def reported_box(self, detection: Detection, width: int, height: int) -> Box:
        """The box callers see: the detector's, moved onto the annotation convention of photo datasets."""
        rescorer = self.rescorer
        if rescorer is not None:
            return landmark_box(detection, rescorer.box_regression, width, height)
        return adjust_box(detection.box, self.config.box_adjust, width, height)

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces, best first (re-scored, and framed when nothing is found, when the mode says so)."""
        return self._find(image)[0]

    def _find(self, image: np.ndarray) -> tuple[list[Detection], np.ndarray | None, list[str | None], float]:
        """Faces, their mask probabilities when re-scoring already computed them, per face the
        fallback that found it, and the seconds spent classifying masks on the way.

        With `closeup_fallback`, a photo with no face, or with a face filling the frame (taller than
        the re-scorer's `big_face` share), is framed with a border and searched again: a face that
        big is larger than the detector's anchors and cut by the edges, so the first pass finds
        nothing or several fragments of it; the framed photo shows it whole.
        """
        check_rgb(image)
        rescorer = self.rescorer
        if rescorer is None:
            detections, probabilities, classify_s = self.detector.detect(image), None, 0.0
        else:
            detections, probabilities, classify_s = self._rescored(image)
        big = 1.0 if rescorer is None else rescorer.big_face
        h = image.shape[0]
        if not self.config.closeup_fallback or (detections and all(d.height < big * h for d in detections)):
            return detections, probabilities, [None] * len(detections), classify_s
        framed = self.closeup(image)
        if detections:
            framed = [d for d in framed if d.height >= big * h]
            if not framed:
                return detections, probabilities, [None] * len(detections), classify_s
        framed_boxes = np.array([f.box for f in framed])
        rest = [d for d in detections if d.height < big * h and box_iou(d.box, framed_boxes).max() < 0.3]
        return [*framed, *rest], None, [*([FALLBACK_PADDED] * len(framed)), *([None] * len(rest))], classify_s

    def _rescored(self, image: np.ndarray) -> tuple[list[Detection], np.ndarray, float]:
        """The re-scorer's faces among all candidates of its passes, their mask probabilities and the
        seconds the classifier took (it sees every candidate: its probability is a feature; under
        strongly coloured light the reported state is classified again, balanced)."""
        rescorer, classifier = self.rescorer, self.classifier
        assert rescorer is not None
        h, w = image.shape[:2]
        passes = [self.detector.detect(image), *(d.detect(image) for d in self.extra_passes)]
        candidates = merge_passes(passes, rescorer.candidate_passes)
        started = time.perf_counter()
        crops = classifier.crops(image, [d.box for d in candidates])
        probabilities = classifier.predict_crops(crops)
        classify_s = time.perf_counter() - started
        features = candidate_features(candidates, passes, probabilities, crop_quality(crops), w, h)
        face_scores = rescorer.trees.predict(features)
        keep = rescorer.keep(candidates, face_scores, h)
        started = time.perf_counter()
        states = classifier.state_probabilities(crops, light_gains(image), probabilities)
        classify_s += time.perf_counter() - started
        kept = [
            (replace(d, score=float(max(s, d.score) if s < rescorer.threshold else s)), p)
            for d, s, p, k in zip(candidates, face_scores, states, keep, strict=True)
            if k
        ]
        kept.sort(key=lambda dp: -dp[0].score)
        return [d for d, _ in kept], np.array([p for _, p in kept], dtype=np.float32), classify_s

    def closeup(self, image: np.ndarray) -> list[Detection]:
        """Faces found after framing the photo with a border, for photos where none was found.

        A face filling the frame is larger than the detector's biggest anchors and cut by the edges;
        framed, it is smaller than the picture and whole. Only confident faces centred in the photo
        count, and a box holding a more confident face is dropped: on a framed photo the detector
        sometimes also boxes the head with its hood or hair around the face, and a face never
        contains another face.
        """
        h, w = image.shape[:2]
        pad = int(CLOSEUP_BORDER * max(h, w))
        framed = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        found = []
        for d in self.detector.detect(framed):
            x1, y1, x2, y2 = (v - pad for v in d.box)
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            if d.score >= CLOSEUP_MIN_SCORE and 0 <= cx < w and 0 <= cy < h:
                box = (max(0.0, x1), max(0.0, y1), min(float(w), x2), min(float(h), y2))
                found.append(replace(d, box=box, landmarks=(d.landmarks - pad).astype(np.float32)))
        return [d for d in found if not any(o.score > d.score and _contains(d.box, o.box) for o in found)]

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
        detections, probabilities, fallbacks, classify_s = self._find(image)
        t_detect = time.perf_counter()
        if probabilities is None:
            probabilities = classifier.predict(image, [d.box for d in detections])
        t_classify = time.perf_counter()
        matches: list[Match] = [Match(None, None)] * len(detections)
        if recognize and gallery is not None and len(gallery) and detections:
            matches = gallery.match(self.recognizer.embed_many(image, detections))
        t_recognize = time.perf_counter()
        faces = [
            FaceResult(
                box=self.reported_box(det, w, h),
                score=det.score,
                keypoints=det.landmarks,
                mask=classifier.label(float(p)),
                mask_score=float(p),
                identity=m.identity,
                distance=m.distance,
                detection=det,
                fallback=fallback,
            )
            for det, p, m, fallback in zip(detections, probabilities, matches, fallbacks, strict=True)
        ]
        if not faces and self.config.closeup_fallback and is_closeup_sized(w, h):
            faces = [self._whole_image(image)]
            t_classify = t_recognize = time.perf_counter()
        return Analysis(
            width=w,
            height=h,
            faces=faces,
            timings_ms={
                "decode": 0.0,
                "detect": (t_detect - start - classify_s) * 1000,
                "classify": (t_classify - t_detect + classify_s) * 1000,
                "recognize": (t_recognize - t_classify) * 1000,
                "total": (t_recognize - start) * 1000,
            },
        )

    def _whole_image(self, image: np.ndarray) -> FaceResult:
        """The whole photo classified as one face (flagged): the last answer for a face crop."""
        h, w = image.shape[:2]
        box = (0.0, 0.0, float(w), float(h))
        probability = float(self.classifier.predict(image, [whole_image_box(w, h)])[0])
        return FaceResult(
            box=box,
            score=0.0,
            keypoints=np.zeros((5, 2), np.float32),
            mask=self.classifier.label(probability),
            mask_score=probability,
            identity=None,
            distance=None,
            detection=Detection(box=box, score=0.0, landmarks=np.zeros((5, 2), np.float32)),
            fallback=FALLBACK_WHOLE_IMAGE,
        )


_shared: dict[str, Pipeline] = {}
_shared_lock = threading.Lock()


def get_pipeline(mode: str = "accurate") -> Pipeline:
    """The process-wide pipeline for a mode, so every caller shares one set of loaded models."""
    with _shared_lock:
        if mode not in _shared:
            _shared[mode] = Pipeline(PipelineConfig.preset(mode))
        return _shared[mode]
