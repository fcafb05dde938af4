"""Score a classifier on faces cropped from the ground-truth boxes of street photos.

``mask-detection-dev`` has PASCAL VOC boxes (``with_mask``, ``without_mask``,
``mask_weared_incorrect``) on real scenes with many small faces: a check the classifier is not
only good on the training set's close-ups. Crops use the engine's ``crop_face``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from detection.engine.crops import crop_face
from detection.engine.imageio import decode_image
from training.ml.evaluate import classification_metrics

#: Face height bins (px) used across the project's reports.
SIZE_BINS = ((0, 20, "<20"), (20, 40, "20-40"), (40, 10**9, ">40"))


def load_dev_faces(dev_dir: str | Path, size: int):
    """(crops uint8 (N,S,S,3), class names (N,), face heights (N,)) of every annotated face."""
    dev_dir = Path(dev_dir)
    crops, names, heights = [], [], []
    for xml_path in sorted((dev_dir / "annotations").glob("*.xml")):
        root = ET.parse(xml_path).getroot()
        image = decode_image(dev_dir / "images" / root.findtext("filename"))
        for obj in root.iter("object"):
            bb = obj.find("bndbox")
            box = [float(bb.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")]
            crops.append(crop_face(image, box, size))
            names.append(obj.findtext("name"))
            heights.append(box[3] - box[1])
    return np.stack(crops), np.array(names), np.array(heights)


def evaluate_dev_set(classifier, dev_dir: str | Path) -> dict:
    """Accuracy on with/without-mask ground-truth crops, overall and by face height.

    ``classifier`` has ``input_size`` and ``predict(crops) -> P(with_mask)``.
    ``mask_weared_incorrect`` faces are reported apart (share called with_mask).
    """
    crops, names, heights = load_dev_faces(dev_dir, classifier.input_size)
    probs = classifier.predict(crops)
    binary = np.isin(names, ["with_mask", "without_mask"])
    labels = (names[binary] == "with_mask").astype(int)
    result = classification_metrics(labels, probs[binary])
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
