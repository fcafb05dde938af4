"""Tiny labelled pools and tiny models for the training-app tests (seconds, no shared data)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from detection.engine.masking import draw_mask
from detection.engine.pipeline import get_pipeline
from tests.photos import encode, face_photo
from training.models import ModelVersion, TrainingImage
from training.services import pool

TINY_INPUT = 32


def empty_registry() -> None:
    """Tests start from no versions (the migration registers v1 when the committed file exists)."""
    ModelVersion.objects.all().delete()


#: train_classifier options that keep a job to seconds: no ImageNet import, a short head phase.
TINY_OPTIONS = {"imagenet": False, "head_epochs": 4, "batch_size": 8}


@lru_cache(maxsize=1)
def _landmarks() -> np.ndarray:
    faces = get_pipeline("accurate").detect(face_photo())
    return max(faces, key=lambda d: d.width * d.height).landmarks


def _variant(image: np.ndarray, i: int) -> np.ndarray:
    """A distinct photo: shifted, brightened and slightly noisy, so every one has its own hash."""
    rng = np.random.default_rng(i)
    dx, dy = int(rng.integers(-20, 21)), int(rng.integers(-20, 21))
    out = np.roll(image, (dy, dx), axis=(0, 1)).astype(np.int16) + int(rng.integers(-25, 26))
    out += rng.integers(-6, 7, size=out.shape, dtype=np.int16)
    return np.clip(out, 0, 255).astype(np.uint8)


def tiny_pool(per_class: int = 8, eval_per_class: int = 3) -> list[TrainingImage]:
    """A balanced pool with both classes in both splits (splits fixed, not by hash)."""
    plain = face_photo()
    masked = draw_mask(plain, _landmarks(), shape="surgical", color=(40, 90, 230))
    rows = []
    for label, base in (("with_mask", masked), ("without_mask", plain)):
        for i in range(per_class):
            split = "eval" if i < eval_per_class else "train"
            data = encode(_variant(base, i + (1000 if label == "with_mask" else 0)))
            rows.append(pool.add_image(data, label, "dataset", split=split)[0])
    return rows


def constant_model(path: Path, probability: float = 0.05, size: int = TINY_INPUT) -> Path:
    """A classifier that always answers `probability` (with_mask): a deliberately poor v1."""
    import keras

    from training.ml.export import export_tflite

    bias = float(np.log(probability / (1 - probability)))
    pixels = keras.Input((size, size, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Rescaling(0.0)(pixels))
    out = keras.layers.Dense(
        1, activation="sigmoid", kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(bias)
    )(x)
    calibration = np.random.default_rng(0).integers(0, 255, (8, size, size, 3)).astype(np.uint8)
    return export_tflite(keras.Model(pixels, out), calibration, path)


def oracle_model(path: Path, images: list[TrainingImage], size: int = TINY_INPUT) -> Path:
    """A hand-set classifier that spots the blue mask of `tiny_pool` (mean blue minus red): a
    strong active version no seconds-long training run can beat."""
    import keras

    from training.ml.data import CLASSES, Sample, build_crops
    from training.ml.export import export_tflite

    samples = [Sample(Path(i.image.path), CLASSES.index(i.label), "val") for i in images]
    crops = build_crops(samples, size, with_context=False)
    feature = (crops.crops[..., 2].astype(float) - crops.crops[..., 0]).mean(axis=(1, 2)) / 255.0
    masked, plain = feature[crops.labels == 1], feature[crops.labels == 0]
    assert masked.min() > plain.max(), "the tiny pool's masks must be bluer than bare faces"
    threshold, gain = (masked.min() + plain.max()) / 2, 20.0 / max(masked.min() - plain.max(), 1e-3)
    pixels = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(1, 1, use_bias=False, name="blue_minus_red")(pixels)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(1, activation="sigmoid", name="decide")(x)
    model = keras.Model(pixels, out)
    model.get_layer("blue_minus_red").set_weights([np.array([-1.0, 0.0, 1.0]).reshape(1, 1, 3, 1) / 255.0])
    model.get_layer("decide").set_weights([np.array([[gain]]), np.array([-gain * threshold])])
    return export_tflite(model, crops.crops, path)
