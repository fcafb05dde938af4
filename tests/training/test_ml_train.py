"""Training runs end to end on a tiny generated data set (random weights, 32 px, one epoch).

The real code path (crops, augmentation, head, fine-tuning, weight snap, re-fit, int8 export) on the
five-conv ``tiny`` backbone, trained once per module: seconds instead of minutes.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from training.ml.export import TFLiteClassifier, sha256_of
from training.ml.train import EXTRA_DEV_REPEAT, REFIT_EPOCHS, TrainingCancelled, TrainOptions, train_classifier

SIZE = 32
FAST = {"imagenet": False, "head_epochs": 1, "batch_size": 8, "architecture": "tiny"}


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """Faces-free 'photos': plain noise without a mask, a pale-blue band over the lower half with one."""
    root = tmp_path_factory.mktemp("tiny")
    rng = np.random.default_rng(0)
    rows = ["path,label,split"]
    for label in ("with_mask", "without_mask"):
        (root / label).mkdir()
        for i in range(10):
            image = rng.integers(60, 200, (48, 40, 3), dtype=np.uint8)
            if label == "with_mask":
                image[26:44, 6:34] = (200, 225, 240)
            Image.fromarray(image).save(root / label / f"{i}.png")
            rows.append(f"{label}/{i}.png,{label},{'val' if i < 3 else 'train'}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="module")
def tiny_dev(tmp_path_factory):
    """A mask-detection-dev-style folder: four 'street photos' with two VOC-annotated faces each."""
    from tests.training.test_ml_devset import write_dev_set

    return write_dev_set(tmp_path_factory.mktemp("dev"), photos=4)


@pytest.fixture(scope="module")
def trained(tiny_data, tiny_dev, tmp_path_factory):
    """The one full training run of this module (with street faces and the dev-set evaluation)."""
    out = tmp_path_factory.mktemp("out")
    events = []
    options = TrainOptions(epochs=1, input_size=SIZE, dev_dir=tiny_dev, extra_dev_half=tiny_dev, **FAST)
    result = train_classifier(tiny_data, out, options, on_epoch=lambda e, logs: events.append((e, logs)))
    return result, events


def test_outputs_and_progress_hook(trained):
    result, events = trained
    assert result.model_path.exists() and result.card.exists() and result.keras_path.exists()
    # head (1 epoch) -> fine-tuning (1) -> re-fit of the sigmoid layer after the int8 weight snap
    assert [logs["phase"] for _, logs in events] == ["head", "finetune"] + ["refit"] * REFIT_EPOCHS
    assert [e for e, _ in events] == list(range(1, 3 + REFIT_EPOCHS))
    assert all(logs["epochs"] == 2 + REFIT_EPOCHS and "val_accuracy" in logs for _, logs in events)
    saved = json.loads((result.model_path.parent / "metrics.json").read_text())
    assert saved["metrics"]["val_tflite"]["n"] == 6
    # the even half's 2 photos x 2 faces, each from 2 boxes x EXTRA_DEV_REPEAT; the odd half scored apart
    extra = saved["metrics"]["data"]["extra_dev_half"]
    assert extra["photos"] == 2 and extra["faces"] == {"without_mask": 2, "with_mask": 2}
    assert extra["crops"] == 4 * 2 * EXTRA_DEV_REPEAT
    assert saved["metrics"]["dev_ground_truth_crops"]["n"] == 8
    assert saved["metrics"]["dev_ground_truth_crops_odd_half"]["n"] == 4
    assert "Street faces added to train" in result.card.read_text()
    # synthetic faces are drawn on the unmasked training photos: these noise 'photos' have no face
    synthetic = saved["metrics"]["data"]["synthetic"]
    assert synthetic["masks"] == 0 and synthetic["skipped"] == 7
    assert "Synthetic variety" in result.card.read_text()
    assert not list(result.model_path.parent.glob(".staging-*"))


def test_no_held_out_figure_chooses_the_weights(tiny_data, tmp_path, monkeypatch):
    """Every phase runs all its epochs and keeps the last weights: the val split, whose figures
    are reported, is never watched (no early stopping, no learning-rate drop on its loss)."""
    import keras

    watchers = []
    fit = keras.Model.fit

    def spy(self, *args, callbacks=(), **kwargs):
        watchers.extend(type(c).__name__ for c in callbacks if hasattr(c, "monitor"))
        return fit(self, *args, callbacks=callbacks, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", spy)
    result = train_classifier(tiny_data, tmp_path, TrainOptions(epochs=3, input_size=SIZE, synthetic=False, **FAST))
    assert watchers == []
    assert [h["phase"] for h in result.history].count("finetune") == 3
    assert "no early stopping: the val split only reports" in result.card.read_text()


def test_exported_model_follows_the_engine_contract(trained):
    result, _ = trained
    classifier = TFLiteClassifier(result.model_path)
    assert classifier.input_size == SIZE
    batch = np.random.default_rng(1).integers(0, 256, (5, SIZE, SIZE, 3)).astype(np.float32)
    probs = classifier.predict(batch)
    assert probs.shape == (5,) and np.all((probs >= 0) & (probs <= 1))


def test_keras_and_tflite_agree_on_a_fixed_batch(trained):
    import keras

    result, _ = trained
    batch = np.random.default_rng(2).integers(0, 256, (8, SIZE, SIZE, 3)).astype(np.float32)
    keras_probs = keras.models.load_model(result.keras_path).predict(batch, verbose=0)[:, 0]
    tflite_probs = TFLiteClassifier(result.model_path).predict(batch)
    np.testing.assert_allclose(tflite_probs, keras_probs, atol=0.05)


def test_card_names_the_file_hash(trained):
    result, _ = trained
    found = re.search(r"SHA-256 `([0-9a-f]{64})`", result.card.read_text())
    assert found and found.group(1) == sha256_of(result.model_path)


def test_cancel_writes_nothing(tiny_data, tmp_path):
    with pytest.raises(TrainingCancelled):
        options = TrainOptions(epochs=1, input_size=SIZE, **FAST)
        train_classifier(tiny_data, tmp_path / "out", options, should_stop=lambda: True)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_continue_from_an_earlier_model(trained, tiny_data, tmp_path):
    result, _ = trained
    options = TrainOptions(epochs=1, input_size=SIZE, initial_model=result.keras_path, **FAST)
    again = train_classifier(tiny_data, tmp_path, options)
    assert again.model_path.exists() and "fine-tuned from" in again.card.read_text()
    with pytest.raises(ValueError, match="takes 32 px crops"):
        train_classifier(tiny_data, tmp_path, replace(options, input_size=64))
