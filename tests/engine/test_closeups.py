"""Accurate mode end to end: re-scored faces with regressed boxes, and faces that fill the frame."""

from dataclasses import replace

import cv2
import numpy as np
import pytest

from detection.engine.pipeline import CLOSEUP_MAX_SIDE, Pipeline, PipelineConfig
from detection.engine.refine import landmark_box


@pytest.fixture(scope="module")
def closeup(pipeline, astronaut) -> np.ndarray:
    """The astronaut's face cut tighter than the detector's box and enlarged: it fills the frame."""
    [face] = pipeline.analyze(astronaut).faces
    x1, y1, x2, y2 = face.detection.box
    w, h = x2 - x1, y2 - y1
    inner = astronaut[int(y1 + 0.2 * h) : int(y2 - 0.2 * h), int(x1 + 0.2 * w) : int(x2 - 0.2 * w)]
    return cv2.resize(inner, (300, 300), interpolation=cv2.INTER_CUBIC)


def test_accurate_mode_reports_the_rescored_face_with_the_regressed_box(pipeline, astronaut):
    analysis = pipeline.analyze(astronaut)
    [result] = analysis.faces
    # the classifier runs inside re-scoring (its probability is a feature); its time is still its own
    assert analysis.timings_ms["classify"] > 0.1 and analysis.timings_ms["detect"] > 1
    assert result.box == landmark_box(result.detection, pipeline.rescorer.box_regression, 512, 512)
    assert result.score >= pipeline.rescorer.threshold and result.fallback is None
    assert result.to_dict()["fallback"] is None


def width_share(face, image: np.ndarray) -> float:
    return (face.box[2] - face.box[0]) / image.shape[1]


def test_a_face_filling_the_frame_is_found_once_and_whole(pipeline, closeup):
    [face] = pipeline.analyze(closeup).faces
    assert face.fallback == "padded" and face.score >= 0.5
    assert width_share(face, closeup) > 0.9  # the whole face, not a fragment of it
    assert face.mask == "without_mask"


def test_without_the_closeup_rules_only_a_fragment_is_found(pipeline, closeup):
    """The regression the rules fix: the first pass sees the oversized face only in pieces."""
    plain = Pipeline(replace(pipeline.config, closeup_fallback=False))
    plain._rescorer = replace(pipeline.rescorer, big_face=2.0)
    assert all(width_share(face, closeup) < 0.5 for face in plain.analyze(closeup).faces)


def test_a_face_crop_with_no_detectable_face_is_classified_whole_and_flagged(pipeline):
    flat = np.full((CLOSEUP_MAX_SIDE, CLOSEUP_MAX_SIDE // 2, 3), 128, np.uint8)
    [whole] = pipeline.analyze(flat).faces
    assert whole.fallback == "whole_image" and whole.score == 0.0
    assert whole.box == (0.0, 0.0, float(CLOSEUP_MAX_SIDE // 2), float(CLOSEUP_MAX_SIDE))
    assert whole.to_dict()["fallback"] == "whole_image" and whole.identity is None
    # a scene (larger than a face crop) with no face reports none
    assert pipeline.analyze(np.full((CLOSEUP_MAX_SIDE + 1, 600, 3), 128, np.uint8)).faces == []
    # the fast (live video) mode never falls back
    fast = Pipeline(PipelineConfig.preset("fast", classifier_path=pipeline.config.classifier_path))
    assert fast.analyze(flat).faces == []


@pytest.mark.shared_data
@pytest.mark.parametrize("dataset", ["mask-classification", "face-recognition-dev"])
def test_every_face_crop_and_portrait_shows_a_face(pipeline, dataset):
    """Every 10th val-split crop and dev portrait (benchmarks/closeups.py measures them all)."""
    import csv

    from detection.engine.imageio import decode_image
    from tests.conftest import shared_dataset

    root = shared_dataset(dataset)
    if dataset == "mask-classification":
        with (root / "manifest.csv").open() as fh:
            paths = [root / row["path"] for row in csv.DictReader(fh) if row["split"] == "val"]
    else:
        paths = sorted(root.rglob("*.jpg"))
    missed = [p.name for p in paths[::10] if not pipeline.analyze(decode_image(p), recognize=False).faces]
    assert missed == []


class _Framed:
    """A detector that, on the framed photo, boxes the face and also the whole head around it."""

    def __init__(self, pad: int) -> None:
        self.pad = pad

    def detect(self, image):
        from detection.engine.types import Detection

        p, points = self.pad, np.zeros((5, 2), np.float32)
        face = Detection(box=(p + 100, p + 10, p + 190, p + 120), score=0.99, landmarks=points + p)
        head = Detection(box=(p + 5, p + 0, p + 235, p + 167), score=0.51, landmarks=points + p)
        other = Detection(box=(p + 20, p + 30, p + 80, p + 100), score=0.9, landmarks=points + p)
        return [face, head, other]


def test_a_framed_box_around_a_more_confident_face_is_dropped(pipeline):
    """A hood or hair boxed around the face is not a second face (a face never holds another)."""
    from detection.engine.pipeline import CLOSEUP_BORDER

    image = np.zeros((167, 240, 3), np.uint8)
    framed = Pipeline(pipeline.config)
    framed._detector = _Framed(int(CLOSEUP_BORDER * 240))
    found = framed.closeup(image)
    assert [d.score for d in found] == [0.99, 0.9]


@pytest.mark.shared_data
def test_masked_faces_under_an_orange_lamp_are_reported_masked(pipeline):
    """A val-split photo under orange light: accurate mode called both masked faces unmasked."""
    from detection.engine.imageio import decode_image
    from tests.conftest import shared_dataset

    photo = decode_image(shared_dataset("mask-classification") / "with_mask" / "with_mask_3483.jpg")
    faces = pipeline.analyze(photo, recognize=False).faces
    assert len(faces) == 2 and all(face.mask == "with_mask" for face in faces), faces


def test_the_closeup_benchmark_judges_a_confident_face_not_a_big_doubtful_box():
    """benchmarks/closeups.py: a family photo's shirt boxed at .50 outweighed two sure faces by area."""
    import importlib.util
    from pathlib import Path
    from types import SimpleNamespace

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "closeups.py"
    spec = importlib.util.spec_from_file_location("closeups_benchmark", path)
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)

    shirt = SimpleNamespace(box=(153, 83, 219, 155), score=0.503)
    face = SimpleNamespace(box=(148, 35, 179, 70), score=1.0)
    assert benchmark.main_face([shirt, face]) is face
    # among sure faces the larger one still wins
    near, far = SimpleNamespace(box=(0, 0, 100, 100), score=0.9), SimpleNamespace(box=(0, 0, 30, 30), score=1.0)
    assert benchmark.main_face([far, near]) is near
