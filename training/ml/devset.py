"""Faces cropped from the ground-truth boxes of street photos: a second test set, and extra training data.

``mask-detection-dev`` has PASCAL VOC boxes (``with_mask``, ``without_mask``,
``mask_weared_incorrect``) on real scenes with many small faces: a check the classifier is not
only good on the training set's close-ups. Crops use the engine's ``crop_face``.

Its photos split into halves exactly as ``benchmarks/detection_accuracy.py`` splits them
(``sorted(stems)[0::2]`` even, ``[1::2]`` odd): the even half may be used for fitting (the engine's
box adjustment, and here extra training faces), the odd half stays held out for honest figures.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from detection.engine.crops import crop_face
from detection.engine.imageio import decode_image
from detection.engine.types import WITH_MASK, WITHOUT_MASK
from training.ml.evaluate import classification_metrics

#: Face height bins (px) used across the project's reports.
SIZE_BINS = ((0, 20, "<20"), (20, 40, "20-40"), (40, 10**9, ">40"))
HALVES = ("all", "even", "odd")
#: (dx, dy, width factor, height factor) taking a raw detector box (RetinaFace or YuNet) to this
#: set's annotated box, fitted on its even half by benchmarks/detection_accuracy.py (the engine's
#: box_adjust: annotated boxes sit ~12% of the height lower and ~9% shorter). Fixed here, as the
#: engine may report boxes another way; it always classifies the crop of the raw detector box.
DETECTOR_TO_ANNOTATION = (0.02, 0.13, 1.05, 0.91)
BINARY = (WITH_MASK, WITHOUT_MASK)


def dev_stems(dev_dir: str | Path, half: str = "all") -> list[str]:
    """Annotation stems of one half of the set (the split of benchmarks/detection_accuracy.py)."""
    if half not in HALVES:
        raise ValueError(f"unknown half {half!r}; choose one of {HALVES}")
    stems = sorted(p.stem for p in (Path(dev_dir) / "annotations").glob("*.xml"))
    return {"all": stems, "even": stems[0::2], "odd": stems[1::2]}[half]


def iter_dev_faces(dev_dir: str | Path, half: str = "all") -> Iterator[tuple[np.ndarray, str, list[float]]]:
    """(RGB image, class name, VOC box) of every annotated face of the half, photo by photo."""
    dev_dir = Path(dev_dir)
    for stem in dev_stems(dev_dir, half):
        root = ET.parse(dev_dir / "annotations" / f"{stem}.xml").getroot()
        image = decode_image(dev_dir / "images" / root.findtext("filename"))
        for obj in root.iter("object"):
            bb = obj.find("bndbox")
            yield image, obj.findtext("name"), [float(bb.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")]


def load_dev_faces(dev_dir: str | Path, size: int, half: str = "all"):
    """(crops uint8 (N,S,S,3), class names (N,), face heights (N,)) of every annotated face."""
    crops, names, heights = [], [], []
    for image, name, box in iter_dev_faces(dev_dir, half):
        crops.append(crop_face(image, box, size))
        names.append(name)
        heights.append(box[3] - box[1])
    return np.stack(crops), np.array(names), np.array(heights)


def detector_like_box(
    box: list[float], adjust: tuple[float, float, float, float] = DETECTOR_TO_ANNOTATION
) -> list[float]:
    """Undo the engine's box adjustment: the raw detector box the engine would crop for this face.

    ``adjust`` = (dx, dy, width factor, height factor) maps a detector box onto the annotation
    convention (``detection.engine.pipeline.adjust_box``); annotated boxes sit lower and are
    shorter, and the engine classifies the crop of the raw detector box.
    """
    dx, dy, sw, sh = adjust
    x1, y1, x2, y2 = box
    w, h = (x2 - x1) / sw, (y2 - y1) / sh
    cx, cy = (x1 + x2) / 2 - dx * w, (y1 + y2) / 2 - dy * h
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def dev_training_faces(
    dev_dir: str | Path, size: int, context_size: int, context_margin: float, half: str = "even"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training crops of the half's with/without-mask faces, each twice: from its annotated box and
    from the detector-like box the engine would see (``mask_weared_incorrect`` is
    skipped: it is neither class).

    Returns (crops (2N,S,S,3), context crops (2N,C,C,3), labels (2N,)).
    """
    crops, context, labels = [], [], []
    for image, name, box in iter_dev_faces(dev_dir, half):
        if name not in BINARY or box[2] - box[0] < 2 or box[3] - box[1] < 2:
            continue
        for variant in (box, detector_like_box(box)):
            crops.append(crop_face(image, variant, size))
            context.append(crop_face(image, variant, context_size, margin=context_margin))
            labels.append(int(name == WITH_MASK))
    if not labels:
        raise ValueError(f"{dev_dir}: no with_mask / without_mask faces in the {half} half")
    return np.stack(crops), np.stack(context), np.array(labels, np.int64)


def evaluate_dev_set(classifier, dev_dir: str | Path, half: str = "all") -> dict:
    """Accuracy on with/without-mask ground-truth crops, overall and by face height.

    ``classifier`` has ``input_size`` and ``predict(crops) -> P(with_mask)``.
    ``mask_weared_incorrect`` faces are reported apart (share called with_mask).
    """
    crops, names, heights = load_dev_faces(dev_dir, classifier.input_size, half)
    probs = classifier.predict(crops)
    binary = np.isin(names, BINARY)
    labels = (names[binary] == WITH_MASK).astype(int)
    result = classification_metrics(labels, probs[binary])
    result["half"] = half
    by_size = {}
    for lo, hi, name in SIZE_BINS:
        sel = (heights[binary] >= lo) & (heights[binary] < hi)
        correct = (probs[binary][sel] >= 0.5).astype(int) == labels[sel]
        by_size[name] = {"n": int(sel.sum()), "accuracy": round(float(correct.mean()), 5) if sel.any() else None}
    result["accuracy_by_face_height"] = by_size
    incorrect = names == "mask_weared_incorrect"
    result["mask_weared_incorrect"] = {
        "n": int(incorrect.sum()),
        "share_predicted_with_mask": round(float((probs[incorrect] >= 0.5).mean()), 5) if incorrect.any() else None,
    }
    return result
