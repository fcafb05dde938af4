"""Accurate mode's re-scorer: the exported trees, the features, the committed model, faces filling the frame."""

import json

import numpy as np
import pytest

from detection.engine.detectors import DetectorConfig
from detection.engine.rescore import (
    CANDIDATE_FEATURES,
    DEFAULT_RESCORER,
    Rescorer,
    TreeEnsemble,
    candidate_features,
    crop_quality,
    merge_passes,
)
from detection.engine.types import Detection

POINTS = np.array([[30, 40], [70, 40], [50, 60], [35, 80], [65, 80]], dtype=np.float32)


def face(box, score):
    x1, y1 = box[:2]
    return Detection(box=box, score=score, landmarks=POINTS + (x1, y1))


def test_exported_trees_predict_as_scikit_learn_does():
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 5))
    x[rng.random(x.shape) < 0.05] = np.nan  # missing values take the side the trees learnt
    y = (np.nan_to_num(x[:, 0]) + 0.5 * np.nan_to_num(x[:, 1]) ** 2 + rng.normal(0, 0.3, 600) > 0.4).astype(int)
    model = HistGradientBoostingClassifier(max_iter=40, max_leaf_nodes=7, random_state=0).fit(x, y)
    trees = TreeEnsemble.from_sklearn(model)
    round_trip = TreeEnsemble.from_dict(json.loads(json.dumps(trees.to_dict())))
    np.testing.assert_allclose(round_trip.predict(x), model.predict_proba(x)[:, 1], atol=1e-12)
    assert round_trip.predict(np.zeros((0, 5))).shape == (0,)


def test_features_measure_agreement_crowd_and_overlap():
    big, small, copy = face((0, 0, 100, 100), 0.99), face((200, 0, 220, 20), 0.3), face((2, 2, 100, 100), 0.2)
    second = [face((210, 0, 230, 20), 0.9), face((0, 0, 98, 98), 0.7)]
    candidates = merge_passes([[big, small, copy]], 1)
    assert candidates == [big, small, copy]
    crops = np.zeros((3, 32, 32, 3), np.uint8)
    crops[0, ::2] = 255  # stripes: a sharp crop; the others are flat
    features = candidate_features(
        candidates, [[big, small, copy], second], np.array([0.9, 0.1, 0.5]), crop_quality(crops), 400, 300
    )
    names = ["first", "second", *CANDIDATE_FEATURES]
    assert features.shape == (3, len(names))
    col = {n: features[:, i] for i, n in enumerate(names)}
    assert col["second"][0] > 0 > col["second"][1]  # CenterFace-like agreement only where boxes overlap
    np.testing.assert_allclose(col["height_over_image"], [100 / 300, 20 / 300, 98 / 300])
    np.testing.assert_allclose(col["mask_probability"], [0.9, 0.1, 0.5])
    assert col["sharpness"][0] > col["sharpness"][1] == 0
    assert col["overlap_with_better"][2] > 0.9 and col["overlap_with_better"][1] == 0
    assert col["log_height_over_confident_median"][0] == pytest.approx(0.0)
    assert col["log_height_over_confident_median"][1] == pytest.approx(np.log(20 / 100))


def test_merging_two_passes_keeps_the_better_of_overlapping_boxes():
    a, b, c = face((0, 0, 50, 50), 0.6), face((1, 1, 51, 51), 0.8), face((100, 100, 120, 120), 0.4)
    assert merge_passes([[a, c], [b]], 2) == [b, c]
    assert merge_passes([[a, c], [b]], 1) == [a, c]


def test_committed_rescorer_loads_and_scores():
    rescorer = Rescorer.load(DEFAULT_RESCORER)
    assert rescorer.passes[0].backend == "retinaface" and 0 < rescorer.threshold < 1
    assert rescorer.box_regression.shape == (13, 4)
    n = len(rescorer.passes) + len(CANDIDATE_FEATURES)
    scores = rescorer.trees.predict(np.zeros((4, n)))
    assert scores.shape == (4,) and ((scores >= 0) & (scores <= 1)).all()
    assert DEFAULT_RESCORER.stat().st_size < 1_000_000  # small enough to commit and load fast


def test_a_confident_face_filling_the_frame_is_kept_whatever_the_trees_say(tmp_path):
    rescorer = Rescorer.load(DEFAULT_RESCORER)
    closeup, distant = face((0, 10, 280, 300), 0.9), face((0, 0, 20, 20), 0.9)
    keep = rescorer.keep([closeup, distant], np.array([0.0, 0.0]), 300)
    assert keep.tolist() == [True, False]
    assert rescorer.keep([face((0, 10, 280, 300), 0.2)], np.array([0.0]), 300).tolist() == [False]


def test_a_model_fitted_on_other_features_is_refused(tmp_path):
    data = json.loads(DEFAULT_RESCORER.read_text())
    data["features"] = data["features"][:-1]
    bad = tmp_path / "rescorer.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="other features"):
        Rescorer.load(bad)
    with pytest.raises(FileNotFoundError):
        Rescorer.load(tmp_path / "missing.json")
    assert DetectorConfig(**data["passes"][0]).score_threshold <= 0.1
