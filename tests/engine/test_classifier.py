"""MaskClassifier against the model contract, the committed model on real photos, and coloured light."""

import numpy as np
import pytest

from detection.engine.classifier import CAST_LIMIT, MaskClassifier, light_gains
from detection.engine.crops import crop_face
from detection.engine.masking import draw_mask
from detection.engine.types import WITH_MASK, WITHOUT_MASK


@pytest.mark.parametrize(("outputs", "batch"), [(1, 1), (2, 1), (1, 4)])
def test_contract_models_any_batch(tiny_model_factory, astronaut, outputs, batch):
    clf = MaskClassifier(tiny_model_factory(size=32, outputs=outputs, batch=batch))
    assert clf.input_size == 32
    boxes = [(180, 60, 270, 175), (0, 0, 50, 50), (400, 400, 600, 600)]  # the last leaves the frame
    probs = clf.predict(astronaut, boxes)
    assert probs.shape == (3,) and probs.dtype == np.float32 and np.all((probs >= 0) & (probs <= 1))
    single = [clf.predict(astronaut, [b])[0] for b in boxes]
    np.testing.assert_allclose(probs, single, atol=1e-5)
    assert clf.predict(astronaut, []).shape == (0,)


def test_crops_are_the_shared_training_crops(tiny_model_factory, astronaut):
    clf = MaskClassifier(tiny_model_factory(size=32))
    box = (180.0, 60.0, 270.0, 175.0)
    np.testing.assert_array_equal(clf.crops(astronaut, [box])[0], crop_face(astronaut, box, 32).astype(np.float32))


def test_missing_or_broken_model(tmp_path):
    with pytest.raises(FileNotFoundError):
        MaskClassifier(tmp_path / "nope.tflite")
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"not a flatbuffer")
    with pytest.raises(ValueError):
        MaskClassifier(broken)


def test_label_threshold(tiny_model_factory):
    clf = MaskClassifier(tiny_model_factory(size=32), threshold=0.7)
    assert clf.label(0.69) == WITHOUT_MASK and clf.label(0.7) == WITH_MASK


def test_committed_model_plain_face_and_drawn_masks(committed_model, astronaut, yunet):
    clf = MaskClassifier(committed_model)
    face = yunet.detect(astronaut)[0]
    assert clf.label(float(clf.predict(astronaut, [face.box])[0])) == WITHOUT_MASK
    for shape in ("surgical", "cloth"):
        masked = draw_mask(astronaut, face.landmarks, shape)
        masked_face = yunet.detect(masked)[0]
        assert clf.label(float(clf.predict(masked, [masked_face.box])[0])) == WITH_MASK, shape


def _lit(image: np.ndarray, gains: tuple[float, float, float]) -> np.ndarray:
    """The photo under coloured light of unchanged brightness (per-channel gains)."""
    g = np.asarray(gains) / np.dot(gains, (0.299, 0.587, 0.114))
    return np.clip(image * g, 0, 255).astype(np.uint8)


def test_ordinary_light_is_left_alone(astronaut):
    assert light_gains(astronaut) is None
    assert light_gains(_lit(astronaut, (1.0, 0.8, 0.6))) is None  # a warm room, within what training saw


@pytest.mark.parametrize("lamp", [(1.0, 0.62, 0.32), (0.15, 0.45, 1.0)], ids=["sodium", "blue shade"])
def test_mask_states_under_strongly_coloured_light_see_balanced_crops(tiny_model_factory, astronaut, lamp):
    lit = _lit(astronaut, lamp)
    means = lit.reshape(-1, 3).mean(axis=0)
    assert means.max() > CAST_LIMIT * means.min()
    gains = light_gains(lit)
    assert gains is not None
    neutral = means * gains
    assert neutral.max() / neutral.min() < 1.05  # grey-world: the light is neutral again
    clf = MaskClassifier(tiny_model_factory(size=32))
    box = (180.0, 60.0, 270.0, 175.0)
    as_cut = crop_face(lit, box, 32).astype(np.float32)
    np.testing.assert_array_equal(clf.crops(lit, [box])[0], as_cut)  # the re-scorer's feature is unchanged
    expected = clf.predict_crops(np.clip(as_cut * gains, 0, 255)[None])
    np.testing.assert_allclose(clf.predict(lit, [box]), expected, rtol=1e-6)
    np.testing.assert_allclose(clf.state_probabilities(as_cut[None], gains, np.zeros(1)), expected, rtol=1e-6)


def test_mask_states_in_ordinary_light_are_the_probabilities_as_cut(tiny_model_factory, astronaut):
    clf = MaskClassifier(tiny_model_factory(size=32))
    crops = clf.crops(astronaut, [(180.0, 60.0, 270.0, 175.0)])
    as_cut = clf.predict_crops(crops)
    assert clf.state_probabilities(crops, light_gains(astronaut), as_cut) is as_cut


@pytest.mark.shared_data
def test_a_masked_face_under_an_orange_lamp_is_called_masked(committed_model):
    """A val-split photo under orange light: both masked faces were called unmasked (0.13, 0.004)."""
    from detection.engine.imageio import decode_image
    from tests.conftest import shared_dataset

    photo = decode_image(shared_dataset("mask-classification") / "with_mask" / "with_mask_3483.jpg")
    clf = MaskClassifier(committed_model)
    probabilities = clf.predict(photo, [(28, 31, 165, 155), (231, 26, 292, 106)])
    assert (probabilities >= clf.threshold).all(), probabilities
