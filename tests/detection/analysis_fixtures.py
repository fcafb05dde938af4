"""Fixtures for the photo-analysis tests: a working classifier and real photos as upload bytes.

Until the committed classifier exists (or on a machine without it) a tiny LiteRT model with the
same contract is built once with TensorFlow and registered as the active ModelVersion, so web
code and real worker processes (which read the test database) both load it.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from detection.engine.classifier import DEFAULT_MODEL
from tests.photos import encode, face_photo, in_frame, masked_face_photo


def media_files() -> set[str]:
    """Every file under MEDIA_ROOT (to check that a failure left none behind)."""
    root = Path(settings.MEDIA_ROOT)
    return {str(p) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def _tiny_model() -> Path:
    path = Path(settings.VAR_DIR) / "tiny_mask_classifier.tflite"
    if not path.exists():
        pytest.importorskip("tensorflow")
        import keras
        import tensorflow as tf

        keras.utils.set_random_seed(0)
        inp = keras.Input((32, 32, 3), batch_size=1)
        x = keras.layers.Rescaling(1 / 255.0)(inp)
        x = keras.layers.GlobalAveragePooling2D()(x)
        out = keras.layers.Dense(1, activation="sigmoid")(x)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(tf.lite.TFLiteConverter.from_keras_model(keras.Model(inp, out)).convert())
        tmp.replace(path)
    return path


@pytest.fixture
def classifier(db):
    """The committed classifier, or a tiny stand-in registered as the active version."""
    if DEFAULT_MODEL.is_file():
        return DEFAULT_MODEL
    from training.models import ModelVersion
    from training.services.registry import model_changed

    path = _tiny_model()
    ModelVersion.objects.update_or_create(
        number=1, defaults={"artifact": str(path), "status": ModelVersion.Status.ACTIVE, "activated_at": timezone.now()}
    )
    model_changed()
    return path


@pytest.fixture
def real_classifier():
    """Tests that check mask labels need the trained model."""
    if not DEFAULT_MODEL.is_file():
        pytest.skip(f"{DEFAULT_MODEL} is not there yet")
    return DEFAULT_MODEL


@pytest.fixture(scope="session")
def face_jpeg() -> bytes:
    return encode(in_frame(face_photo(), 640, 480), "JPEG", quality=90)


@pytest.fixture(scope="session")
def masked_jpeg() -> bytes:
    return encode(in_frame(masked_face_photo(), 640, 480), "JPEG", quality=90)


def make_zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()
