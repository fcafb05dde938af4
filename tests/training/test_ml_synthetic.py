"""Synthetic variety for the mask classifier: what each drawing changes, and the crops it adds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from detection.engine.masking import mask_outline
from tests.photos import face_photo
from training.ml.data import Sample, context_size
from training.ml.faces import detect_face
from training.ml.synthetic import MASK_COLOURS, beard, fabric_mask, hand, held_object, profile_squeeze, synthetic_faces


@pytest.fixture(scope="module")
def portrait():
    image = face_photo()
    face = detect_face(image)
    assert face is not None
    return image, face


def _changed(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    return np.abs(after.astype(int) - before.astype(int)).sum(axis=2) > 30


def _region(face, rows: slice) -> tuple[slice, slice]:
    x1, _, x2, _ = (int(v) for v in face.box)
    return rows, slice(x1, x2)


def test_a_fabric_mask_covers_mouth_and_chin_and_leaves_the_eyes(portrait):
    image, face = portrait
    drawn = fabric_mask(image, face.landmarks, np.random.default_rng(0))
    changed = _changed(image, drawn)
    mouth = face.landmarks[3:5].mean(axis=0).astype(int)
    assert changed[mouth[1] - 2 : mouth[1] + 3, mouth[0] - 2 : mouth[0] + 3].all()
    for eye in face.landmarks[:2].astype(int):
        assert not changed[eye[1] - 2 : eye[1] + 3, eye[0] - 2 : eye[0] + 3].any()
    # nothing drawn far outside the mask's outline
    outline = mask_outline(face.landmarks)
    top = int(outline[:, 1].min()) - 10
    assert not changed[:top].any()


def test_masks_come_in_colours_the_data_lacks(portrait):
    image, face = portrait
    rng = np.random.default_rng(1)
    mouth = face.landmarks[3:5].mean(axis=0).astype(int)
    colours = {tuple(fabric_mask(image, face.landmarks, rng)[mouth[1], mouth[0]] // 40) for _ in range(12)}
    assert len(colours) >= 5
    assert (236, 164, 188) in MASK_COLOURS and (186, 166, 222) in MASK_COLOURS  # pink and lavender


@pytest.mark.parametrize("draw", [hand, beard, held_object])
def test_occluders_touch_the_lower_face_only(portrait, draw):
    image, face = portrait
    drawn = draw(image, face.landmarks, np.random.default_rng(2))
    changed = _changed(image, drawn)
    eyes_y = int(face.landmarks[:2, 1].max())
    nose_y = int(face.landmarks[2, 1])
    assert changed.any()
    assert not changed[: eyes_y + 1].any()
    assert changed[nose_y:].sum() > 0.9 * changed.sum()


def test_profile_squeeze_moves_the_face_sideways_and_keeps_the_frame(portrait):
    image, face = portrait
    squeezed = profile_squeeze(image, face.box, np.random.default_rng(3))
    assert squeezed.shape == image.shape
    x1, y1, x2, y2 = (int(v) for v in face.box)
    assert _changed(image[y1:y2, x1:x2], squeezed[y1:y2, x1:x2]).mean() > 0.1
    assert np.array_equal(image[:, : x1 - 2], squeezed[:, : x1 - 2])


def test_synthetic_faces_label_masks_and_occluders_and_skip_faceless_photos(portrait, tmp_path: Path):
    image, _ = portrait
    Image.fromarray(image).save(tmp_path / "face.png")
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(tmp_path / "blank.png")
    samples = [
        Sample(tmp_path / "face.png", 0, "train"),
        Sample(tmp_path / "blank.png", 0, "train"),
        Sample(tmp_path / "face.png", 1, "train"),  # masked photos are never drawn on
    ]
    crops, counts = synthetic_faces(samples, 32, seed=0)
    assert counts["masks"] == 1 and counts["skipped"] == 1
    occluded = counts["hand"] + counts["beard"] + counts["object"]
    assert list(crops.labels) == [1] + [0] * occluded
    assert crops.crops.shape == (1 + occluded, 32, 32, 3)
    assert crops.context is not None and crops.context.shape[1] == context_size(32)
