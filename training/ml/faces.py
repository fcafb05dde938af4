"""Face boxes for training photos, found with the engine's own detector and cached under ``var/``.

The classifier must see at training time what the engine feeds it at run time, so training
crops come from the same detector and the same ``crop_face`` as inference. Detection is the slow
part of preparing a data set, so boxes are cached by file content and detector settings.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from detection.engine.detectors import DetectorConfig, create_detector
from detection.engine.types import Detection

log = logging.getLogger(__name__)

#: Detector used for training crops: the engine's YuNet, as in its fast (live video) mode.
TRAINING_DETECTOR = DetectorConfig(backend="yunet", input_scale=1.0, score_threshold=0.6)
DEFAULT_BOX_CACHE = Path(__file__).resolve().parents[2] / "var" / "mask_faces" / "boxes.json"

_detector_lock = threading.Lock()
_detector = None


def _get_detector():
    global _detector
    with _detector_lock:
        if _detector is None:
            _detector = create_detector(TRAINING_DETECTOR)
        return _detector


def detect_face(image_rgb: np.ndarray) -> Detection | None:
    """The most prominent face (largest box x score) in a training photo, with landmarks, or None."""
    detections = _get_detector().detect(image_rgb)
    if not detections:
        return None
    return max(detections, key=lambda d: d.width * d.height * d.score)


def detect_face_box(image_rgb: np.ndarray) -> tuple[float, float, float, float] | None:
    """The box of the most prominent face in a training photo, or None."""
    face = detect_face(image_rgb)
    return None if face is None else tuple(float(v) for v in face.box)


def file_key(path: Path) -> str:
    """Content hash of a file: the cache key (paths move, contents do not)."""
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


class BoxCache:
    """A JSON map of file hash -> face box (or null), per detector configuration."""

    def __init__(self, path: Path | str = DEFAULT_BOX_CACHE) -> None:
        self.path = Path(path)
        self.section = repr(TRAINING_DETECTOR)
        self._data: dict[str, dict[str, list[float] | None]] = {}
        if self.path.exists():
            try:
                self._data = json.loads(self.path.read_text())
            except (OSError, ValueError):
                log.warning("ignoring unreadable box cache %s", self.path)
        self._boxes = self._data.setdefault(self.section, {})

    def get(self, key: str) -> tuple[bool, list[float] | None]:
        if key in self._boxes:
            return True, self._boxes[key]
        return False, None

    def put(self, key: str, box: Iterable[float] | None) -> None:
        self._boxes[key] = None if box is None else [round(float(v), 2) for v in box]

    def save(self) -> None:
        """Write atomically so a killed run never leaves a broken cache."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._data))
        tmp.replace(self.path)
