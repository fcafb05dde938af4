"""Face recognizers behind one interface; `create_recognizer` picks the back end by name."""

from __future__ import annotations

from detection.engine.recognizers.base import FaceRecognizer

BACKENDS = ("sface", "dlib")


def create_recognizer(backend: str) -> FaceRecognizer:
    """Build the recognizer named `backend` (models load here, once)."""
    if backend == "sface":
        from detection.engine.recognizers.sface import SFaceRecognizer

        return SFaceRecognizer()
    if backend == "dlib":
        from detection.engine.recognizers.dlib_resnet import DlibRecognizer

        return DlibRecognizer()
    raise ValueError(f"unknown recognizer back end {backend!r}; choose one of {BACKENDS}")


__all__ = ["BACKENDS", "FaceRecognizer", "create_recognizer"]
