"""MaskClassifier against the model contract, and the committed model on a real photo."""

import numpy as np
import pytest

from detection.engine.classifier import MaskClassifier
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
