"""Drawn masks cover nose, mouth and chin, and leave the eyes alone."""

import numpy as np
import pytest

from detection.engine.masking import MASK_SHAPES, draw_mask


@pytest.fixture(scope="module")
def face(astronaut, yunet):
    return yunet.detect(astronaut)[0]


@pytest.mark.parametrize("shape", MASK_SHAPES)
def test_mask_covers_mouth_not_eyes(astronaut, face, shape):
    masked = draw_mask(astronaut, face.landmarks, shape)
    changed = np.any(masked != astronaut, axis=2)
    for x, y in face.landmarks[2:].astype(int):  # nose tip, mouth corners
        assert changed[y, x]
    for x, y in face.landmarks[:2].astype(int):  # eyes
        assert not changed[y - 3 : y + 4, x - 3 : x + 4].any()
    assert masked is not astronaut and not np.shares_memory(masked, astronaut)


def test_68_point_landmarks(astronaut):
    pts = np.zeros((68, 2))
    pts[2:15] = np.column_stack([np.linspace(180, 270, 13), 120 + 50 * np.sin(np.linspace(0, np.pi, 13))])
    pts[28] = (225, 115)
    masked = draw_mask(astronaut, pts)
    assert (masked[150, 225] != astronaut[150, 225]).any()


def test_bad_arguments(astronaut, face):
    with pytest.raises(ValueError, match="5 or 68"):
        draw_mask(astronaut, np.zeros((7, 2)))
    with pytest.raises(ValueError, match="shape"):
        draw_mask(astronaut, face.landmarks, "balaclava")
