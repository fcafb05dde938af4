"""Classifier metrics (plain NumPy, so the numbers mean the same in tests, jobs and benchmarks)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.ml.data import CLASSES

ECE_BINS = 10


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve via the rank-sum statistic (ties get average ranks)."""
    labels = np.asarray(labels).astype(bool)
    pos, neg = labels.sum(), (~labels).sum()
    if pos == 0 or neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), np.float64)
    sorted_scores = np.asarray(scores)[order]
    i = 0
    while i < len(sorted_scores):
        j = i
        while j + 1 < len(sorted_scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg))


def calibration_bins(labels: np.ndarray, probs: np.ndarray, bins: int = ECE_BINS):
    """Per-bin (mean confidence in with_mask, observed with_mask rate, count)."""
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(probs, edges[1:-1]), 0, bins - 1)
    out = []
    for b in range(bins):
        sel = idx == b
        n = int(sel.sum())
        out.append((float(probs[sel].mean()) if n else np.nan, float(labels[sel].mean()) if n else np.nan, n))
    return out


def expected_calibration_error(labels: np.ndarray, probs: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE of the predicted class's confidence (the usual top-label definition)."""
    labels = np.asarray(labels).astype(int)
    probs = np.asarray(probs, np.float64)
    pred = (probs >= 0.5).astype(int)
    conf = np.where(pred == 1, probs, 1 - probs)
    correct = (pred == labels).astype(float)
    edges = np.linspace(0.5, 1.0, bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        sel = idx == b
        if sel.any():
            ece += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(ece)


def classification_metrics(labels: np.ndarray, probs: np.ndarray, threshold: float = 0.5) -> dict:
    """Accuracy, per-class P/R/F1, ROC AUC, ECE and the confusion matrix (rows = truth)."""
    labels = np.asarray(labels).astype(int)
    probs = np.asarray(probs, np.float64)
    pred = (probs >= threshold).astype(int)
    cm = np.zeros((2, 2), int)
    np.add.at(cm, (labels, pred), 1)
    per_class = {}
    for k, name in enumerate(CLASSES):
        tp = cm[k, k]
        precision = tp / cm[:, k].sum() if cm[:, k].sum() else 0.0
        recall = tp / cm[k, :].sum() if cm[k, :].sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {
            "precision": round(float(precision), 5),
            "recall": round(float(recall), 5),
            "f1": round(float(f1), 5),
            "support": int(cm[k, :].sum()),
        }
    return {
        "n": int(len(labels)),
        "accuracy": round(float((pred == labels).mean()) if len(labels) else float("nan"), 5),
        "per_class": per_class,
        "roc_auc": round(roc_auc(labels, probs), 5),
        "ece": round(expected_calibration_error(labels, probs), 5),
        "confusion_matrix": {"classes": list(CLASSES), "rows_truth_cols_pred": cm.tolist()},
    }


def save_plots(labels: np.ndarray, probs: np.ndarray, out_dir: Path | str, title: str) -> list[Path]:
    """Confusion-matrix and reliability-diagram PNGs; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    m = classification_metrics(labels, probs)
    cm = np.array(m["confusion_matrix"]["rows_truth_cols_pred"])

    fig, ax = plt.subplots(figsize=(4.2, 3.8), dpi=100)
    ax.imshow(cm, cmap="Blues")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center", color="white" if v > cm.max() / 2 else "black")
    ax.set_xticks([0, 1], CLASSES)
    ax.set_yticks([0, 1], CLASSES)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title}\naccuracy {m['accuracy']:.4f} (n={m['n']})", fontsize=9)
    fig.tight_layout()
    cm_path = out_dir / "confusion_matrix.png"
    fig.savefig(cm_path)
    plt.close(fig)

    bins = calibration_bins(np.asarray(labels), np.asarray(probs))
    fig, ax = plt.subplots(figsize=(4.2, 3.8), dpi=100)
    conf = [b[0] for b in bins if b[2]]
    rate = [b[1] for b in bins if b[2]]
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect")
    ax.plot(conf, rate, "o-", label="model")
    ax.set_xlabel("predicted P(with_mask)")
    ax.set_ylabel("observed with_mask rate")
    ax.set_title(f"{title}\nECE {m['ece']:.4f}", fontsize=9)
    ax.legend(loc="upper left")
    fig.tight_layout()
    cal_path = out_dir / "calibration.png"
    fig.savefig(cal_path)
    plt.close(fig)
    return [cm_path, cal_path]
