"""Does test-time augmentation pay for the mask classifier? Margins x horizontal flip, batched.

usage: nice -n 5 python benchmarks/mask_tta.py [--datasets DIR]

Each face is cropped at several margins around its box (and mirrored); the probabilities are
averaged. Measured on the val split of `mask-classification` (face found by the training detector,
as training crops it) and on the faces of the held-out (odd) half of `mask-detection-dev` (cropped
around the detector-like box the engine classifies), against the plain single crop. Writes
benchmarks/reports/mask_tta.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _datasets import dataset_dirs, datasets_parser  # noqa: E402
from report import write_report  # noqa: E402

MARGINS = (0.05, 0.15, 0.25)
#: Column groups of the (margins x flip) probability matrix; column 1 is the engine's single crop.
VARIANTS = {
    "single crop (margin 0.15)": [1],
    "flip": [1, 4],
    "3 margins": [0, 1, 2],
    "3 margins x flip": [0, 1, 2, 3, 4, 5],
}


def tta_probabilities(classifier, image: np.ndarray, box) -> np.ndarray:
    """P(with_mask) of the crops at every margin, then of their mirror images (one batch)."""
    from detection.engine.crops import crop_face

    crops = [crop_face(image, box, classifier.input_size, margin=m) for m in MARGINS]
    crops += [c[:, ::-1] for c in crops]
    return classifier.predict_crops(np.stack(crops).astype(np.float32))


def accuracy_by_variant(probs: np.ndarray, truth: np.ndarray) -> dict:
    return {
        name: round(float(((probs[:, cols].mean(axis=1) >= 0.5) == truth).mean()), 4) for name, cols in VARIANTS.items()
    }


def main() -> int:
    parser = datasets_parser(__doc__)
    args = parser.parse_args()
    crops_dir, dev_dir = dataset_dirs(args.datasets, "mask-classification", "mask-detection-dev")

    from detection.engine.classifier import MaskClassifier
    from detection.engine.crops import whole_image_box
    from detection.engine.imageio import decode_image
    from training.ml.data import list_samples
    from training.ml.devset import detector_like_box, iter_dev_faces
    from training.ml.faces import detect_face_box

    classifier = MaskClassifier()
    val_probs, val_truth = [], []
    for sample in (s for s in list_samples(crops_dir) if s.split == "val"):
        image = decode_image(sample.path)
        box = detect_face_box(image) or whole_image_box(image.shape[1], image.shape[0])
        val_probs.append(tta_probabilities(classifier, image, box))
        val_truth.append(sample.label == 1)
    dev_probs, dev_truth, heights = [], [], []
    for image, name, box in iter_dev_faces(dev_dir, "odd"):
        if name in ("with_mask", "without_mask"):
            dev_probs.append(tta_probabilities(classifier, image, detector_like_box(box)))
            dev_truth.append(name == "with_mask")
            heights.append(box[3] - box[1])
    dev_p, dev_t, small = np.array(dev_probs), np.array(dev_truth), np.array(heights) < 20
    figures = {
        "margins": list(MARGINS),
        "val_accuracy": accuracy_by_variant(np.array(val_probs), np.array(val_truth)),
        "dev_odd_half_accuracy": accuracy_by_variant(dev_p, dev_t),
        "dev_odd_half_accuracy_under_20px": accuracy_by_variant(dev_p[small], dev_t[small]),
        "faces": {"val": len(val_truth), "dev_odd_half": len(dev_truth)},
    }
    write_report("mask_tta", "Mask classifier test-time augmentation (margins x flip)", figures)
    print(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
