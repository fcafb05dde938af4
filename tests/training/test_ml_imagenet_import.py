"""The ImageNet import is faithful: the Keras model ranks classes like the TFLite model it came from."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.conftest import shared_dataset

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def imagenet_dir():
    return shared_dataset("imagenet-pretrained")


def _tflite_scores(path, image: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image[None])
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0].astype(np.float64)


def test_top5_labels_agree_with_the_tflite_model(imagenet_dir):
    from training.ml.imagenet_import import DEFAULT_TFLITE, build_imported_mobilenet_v2

    labels = (imagenet_dir / "imagenet_labels.txt").read_text().splitlines()
    model = build_imported_mobilenet_v2(imagenet_dir / DEFAULT_TFLITE.name)
    expected_top1 = {"grace_hopper.png": "military uniform", "cat.png": "Egyptian cat"}
    for name, top1 in expected_top1.items():
        image = np.asarray(Image.open(imagenet_dir / name).convert("RGB").resize((224, 224), Image.BILINEAR))
        reference = np.argsort(-_tflite_scores(imagenet_dir / DEFAULT_TFLITE.name, image))[:5]
        keras_scores = model.predict(image[None].astype(np.float32) / 127.5 - 1.0, verbose=0)[0]
        ours = np.argsort(-keras_scores)[:5]
        assert labels[ours[0]] == labels[reference[0]] == top1
        assert set(ours) == set(reference), f"{name}: {[labels[i] for i in ours]} vs {[labels[i] for i in reference]}"


def test_headless_backbone_is_cached_and_reused(imagenet_dir, tmp_path):
    from training.ml.imagenet_import import DEFAULT_TFLITE, imported_backbone

    cache = tmp_path / "imported.weights.h5"
    first = imported_backbone(64, cache=cache, tflite_path=imagenet_dir / DEFAULT_TFLITE.name)
    assert cache.exists()
    second = imported_backbone(64, cache=cache, tflite_path=tmp_path / "absent.tflite")
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_missing_source_and_cache_gives_none(tmp_path):
    from training.ml.imagenet_import import imported_backbone

    assert imported_backbone(64, cache=tmp_path / "none.h5", tflite_path=tmp_path / "none.tflite") is None
