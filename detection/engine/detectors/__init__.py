"""Face detectors behind one interface; `create_detector` picks the back end by name."""

from __future__ import annotations

from detection.engine.detectors.base import DetectorConfig, FaceDetector

BACKENDS = ("yunet", "retinaface", "centerface")


def create_detector(config: DetectorConfig) -> FaceDetector:
    """Build the detector named by `config.backend` (models load here, once)."""
    if config.backend == "yunet":
        from detection.engine.detectors.yunet import YuNetDetector

        return YuNetDetector(config)
    if config.backend == "retinaface":
        from detection.engine.detectors.retinaface import RetinaFaceDetector

        return RetinaFaceDetector(config)
    if config.backend == "centerface":
        from detection.engine.detectors.centerface import CenterFaceDetector

        return CenterFaceDetector(config)
    raise ValueError(f"unknown detector back end {config.backend!r}; choose one of {BACKENDS}")


__all__ = ["BACKENDS", "DetectorConfig", "FaceDetector", "create_detector"]
