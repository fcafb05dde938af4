"""Metric definitions checked against hand-computed values."""

from __future__ import annotations

import numpy as np

from training.ml.evaluate import classification_metrics, expected_calibration_error, roc_auc


def test_roc_auc_with_ties():
    labels = np.array([0, 0, 1, 1])
    assert roc_auc(labels, np.array([0.1, 0.4, 0.35, 0.8])) == 0.75
    assert roc_auc(labels, np.array([0.5, 0.5, 0.5, 0.5])) == 0.5


def test_ece_of_a_calibrated_and_an_overconfident_model():
    labels = np.array([1, 1, 1, 0] * 25)
    assert expected_calibration_error(labels, np.full(100, 0.75)) < 1e-9
    assert abs(expected_calibration_error(labels, np.full(100, 0.99)) - 0.24) < 1e-9


def test_confusion_matrix_and_per_class():
    m = classification_metrics(np.array([0, 0, 1, 1, 1]), np.array([0.2, 0.7, 0.9, 0.8, 0.1]))
    assert m["confusion_matrix"]["rows_truth_cols_pred"] == [[1, 1], [1, 2]]
    assert m["accuracy"] == 0.6
    assert m["per_class"]["with_mask"] == {"precision": 0.66667, "recall": 0.66667, "f1": 0.66667, "support": 3}
