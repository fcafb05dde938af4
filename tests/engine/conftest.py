"""Real photos for engine tests: scikit-image's astronaut and matplotlib's Grace Hopper."""

from __future__ import annotations

import numpy as np
import pytest

from detection.engine.classifier import DEFAULT_MODEL


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


@pytest.fixture(scope="session")
def grace_hopper() -> np.ndarray:
    from matplotlib import cbook
    from PIL import Image

    with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as img:
        return np.asarray(img.convert("RGB"))


@pytest.fixture(scope="session")
def yunet():
    from detection.engine.detectors import DetectorConfig, create_detector

    return create_detector(DetectorConfig(backend="yunet"))


@pytest.fixture(scope="session")
def sface():
    from detection.engine.recognizers import create_recognizer

    return create_recognizer("sface")


@pytest.fixture(scope="session")
def committed_model():
    if not DEFAULT_MODEL.is_file():
        pytest.skip(f"{DEFAULT_MODEL} is not there yet")
    return DEFAULT_MODEL


@pytest.fixture(scope="session")
def pipeline(committed_model):
    from detection.engine.pipeline import Pipeline, PipelineConfig

    return Pipeline(PipelineConfig.preset("accurate"))


@pytest.fixture(scope="session")
def tiny_model_factory(tmp_path_factory):
    """Build throwaway LiteRT models that follow the classifier contract (input S, 1 or 2 outputs)."""
    pytest.importorskip("tensorflow")
    made: dict[tuple[int, int, int], str] = {}

    def make(size: int = 32, outputs: int = 1, batch: int = 1) -> str:
        key = (size, outputs, batch)
        if key not in made:
            import keras
            import tensorflow as tf

            keras.utils.set_random_seed(0)
            inp = keras.Input((size, size, 3), batch_size=batch)
            x = keras.layers.Rescaling(1 / 255.0)(inp)
            x = keras.layers.GlobalAveragePooling2D()(x)
            act = "sigmoid" if outputs == 1 else "softmax"
            out = keras.layers.Dense(outputs, activation=act)(x)
            model = keras.Model(inp, out)
            path = tmp_path_factory.mktemp("tiny") / f"tiny_{size}_{outputs}_{batch}.tflite"
            path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
            made[key] = str(path)
        return made[key]

    return make
