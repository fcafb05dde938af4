"""The committed classifier and its model card belong together and follow the engine contract."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from training.ml.export import TFLiteClassifier, sha256_of

MODELS = Path(__file__).resolve().parents[2] / "detection" / "engine" / "models"


def test_card_hash_matches_the_committed_file():
    card = (MODELS / "mask_classifier.md").read_text()
    found = re.search(r"SHA-256 `([0-9a-f]{64})`", card)
    assert found, "the model card must state the SHA-256 of the .tflite"
    assert found.group(1) == sha256_of(MODELS / "mask_classifier.tflite")


def test_committed_model_contract_and_size():
    path = MODELS / "mask_classifier.tflite"
    assert path.stat().st_size <= 4 * 1024 * 1024
    classifier = TFLiteClassifier(path)
    batch = np.random.default_rng(0).integers(0, 256, (3, classifier.input_size, classifier.input_size, 3))
    probs = classifier.predict(batch.astype(np.float32))
    assert probs.shape == (3,) and np.all((probs >= 0) & (probs <= 1))
