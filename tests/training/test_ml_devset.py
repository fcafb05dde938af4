"""Street-photo faces: the even/odd split matches the detection benchmark, and boxes map back exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from detection.engine.pipeline import adjust_box
from training.ml.devset import (
    DETECTOR_TO_ANNOTATION,
    detector_like_box,
    dev_stems,
    dev_training_faces,
    evaluate_dev_set,
)

FACES = (
    ("with_mask", (10, 12, 30, 34)),
    ("without_mask", (40, 20, 52, 34)),
    ("mask_weared_incorrect", (5, 40, 15, 52)),
)


def write_dev_set(root: Path, photos: int) -> Path:
    """VOC annotations + images; each photo has one with_mask and one without_mask face
    (and, in photo 0, a mask_weared_incorrect one)."""
    (root / "annotations").mkdir(parents=True)
    (root / "images").mkdir()
    rng = np.random.default_rng(3)
    for i in range(photos):
        name = f"street{i}"
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(root / "images" / f"{name}.png")
        objects = "".join(
            f"<object><name>{label}</name><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin>"
            f"<xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>"
            for label, (x1, y1, x2, y2) in FACES[: 3 if i == 0 else 2]
        )
        (root / "annotations" / f"{name}.xml").write_text(
            f"<annotation><filename>{name}.png</filename><size><width>64</width><height>64</height></size>"
            f"{objects}</annotation>"
        )
    return root


def test_halves_are_the_detection_benchmarks_halves(tmp_path):
    root = write_dev_set(tmp_path, photos=5)
    stems = sorted(p.stem for p in (root / "annotations").glob("*.xml"))
    # benchmarks/detection_accuracy.py: sorted(stems)[0::2] fits the engine, [1::2] is held out
    assert dev_stems(root, "even") == stems[0::2] == ["street0", "street2", "street4"]
    assert dev_stems(root, "odd") == stems[1::2]
    assert sorted(dev_stems(root, "even") + dev_stems(root, "odd")) == dev_stems(root)
    with pytest.raises(ValueError, match="unknown half"):
        dev_stems(root, "first")


def test_detector_like_box_inverts_the_engines_adjustment():
    adjust = DETECTOR_TO_ANNOTATION
    annotated = [100.0, 120.0, 140.0, 170.0]
    raw = detector_like_box(annotated)
    np.testing.assert_allclose(adjust_box(tuple(raw), adjust, 1000, 1000), annotated, atol=1e-9)
    assert raw[1] < annotated[1] and raw[3] - raw[1] > annotated[3] - annotated[1]  # higher, taller


def test_training_faces_skip_the_third_class_and_evaluation_splits_halves(tmp_path):
    root = write_dev_set(tmp_path, photos=3)
    crops, context, labels = dev_training_faces(root, 32, 42, 0.35, half="even")
    # photos 0 and 2, two binary faces each, each from the annotated and the detector-like box
    assert crops.shape == (8, 32, 32, 3) and context.shape == (8, 42, 42, 3)
    assert sorted(labels.tolist()) == [0] * 4 + [1] * 4

    class Constant:
        input_size = 32

        def predict(self, batch):
            return np.full(len(batch), 0.9)

    odd = evaluate_dev_set(Constant(), root, half="odd")
    assert odd["n"] == 2 and odd["accuracy"] == 0.5 and odd["mask_weared_incorrect"]["n"] == 0
    assert evaluate_dev_set(Constant(), root)["mask_weared_incorrect"] == {"n": 1, "share_predicted_with_mask": 1.0}
