"""End-to-end mask detection accuracy on the dev set (same scoring as ../shared/tools/score_detection.py).

usage: python benchmarks/detection_accuracy.py [--mode accurate|fast] [--data DIR] [--images all|even|odd]
       [--jsonl OUT.jsonl] [--fit-box-adjust] [--fit-refine] [--classifier PATH]

Runs the engine's Pipeline (no recognition) over every photo, scores greedily by score at IoU >= 0.4 and
prints recall, precision, AP, recall by face height, mask accuracy on matched with/without faces.
`--images even|odd` scores half of the photos (sorted by name): the box adjustment was fitted on the
even half (`--fit-box-adjust --images even`), so the odd half is the honest held-out figure (printed
on a second line when all photos are scored). `--fit-refine --images even` refits the accurate
mode's landmark box regression and confirmation model (detection/engine/refine.py) and prints them.
If the reference scorer is present, its output on the same results is printed too, as a cross-check.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mask-detection-dev"
REFERENCE_SCORER = Path(__file__).resolve().parents[2] / "shared" / "tools" / "score_detection.py"
HEIGHT_BINS = ("<20", "20-40", ">40")


def load_ground_truth(ann_dir: Path) -> dict[str, list[tuple[str, tuple[float, float, float, float]]]]:
    """VOC boxes per image stem, clipped to the image, degenerate boxes dropped (as the reference does)."""
    gt = {}
    for xml in sorted(ann_dir.glob("*.xml")):
        root = ET.parse(xml).getroot()
        width, height = int(root.find("size/width").text), int(root.find("size/height").text)
        boxes = []
        for obj in root.iter("object"):
            bb = obj.find("bndbox")
            x1, y1, x2, y2 = (float(bb.find(k).text) for k in ("xmin", "ymin", "xmax", "ymax"))
            x1, y1, x2, y2 = max(0, x1), max(0, y1), min(width, x2), min(height, y2)
            if x2 - x1 < 2 or y2 - y1 < 2:
                continue
            boxes.append((obj.find("name").text, (x1, y1, x2, y2)))
        gt[xml.stem] = boxes
    return gt


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def height_bin(h: float) -> str:
    return "<20" if h < 20 else ("20-40" if h <= 40 else ">40")


def score(gt: dict, preds: dict, iou_threshold: float = 0.4) -> dict:
    """Greedy matching by score per image, then recall, precision, AP and mask accuracy.

    `preds` maps image stem to a list of face dicts with "box", "score" and optionally "mask".
    """
    n_gt = sum(len(v) for v in gt.values())
    ranked, fp = [], 0
    mask_right = mask_wrong = 0
    per_class: dict[str, list[int]] = {}
    bins = {b: [0, 0] for b in HEIGHT_BINS}
    for stem, boxes in gt.items():
        faces = preds.get(stem, [])
        hit: list[int | None] = [None] * len(boxes)
        for i in sorted(range(len(faces)), key=lambda i: -faces[i].get("score", 0)):
            best, best_j = 0.0, -1
            for j, (_, g) in enumerate(boxes):
                if hit[j] is None and (v := iou(faces[i]["box"], g)) > best:
                    best, best_j = v, j
            if best >= iou_threshold:
                hit[best_j] = i
                ranked.append((faces[i].get("score", 0), 1))
            else:
                fp += 1
                ranked.append((faces[i].get("score", 0), 0))
        for j, (cls, g) in enumerate(boxes):
            b = bins[height_bin(g[3] - g[1])]
            pc = per_class.setdefault(cls, [0, 0])
            b[1] += 1
            pc[1] += 1
            if hit[j] is not None:
                b[0] += 1
                pc[0] += 1
                if cls in ("with_mask", "without_mask"):
                    if faces[hit[j]].get("mask") == cls:
                        mask_right += 1
                    else:
                        mask_wrong += 1
    tp = sum(t for _, t in ranked)
    ranked.sort(key=lambda t: -t[0])
    points, ctp = [], 0
    for k, (_, t) in enumerate(ranked, 1):
        ctp += t
        points.append((ctp / max(1, n_gt), ctp / k))
    ap, prev_r = 0.0, 0.0
    precisions = [p for _, p in points]
    for i in range(len(points) - 1, 0, -1):
        precisions[i - 1] = max(precisions[i - 1], precisions[i])
    for (r, _), p in zip(points, precisions, strict=True):
        ap += (r - prev_r) * p
        prev_r = r
    return {
        "images": len(gt),
        "gt_faces": n_gt,
        "recall": round(tp / max(1, n_gt), 4),
        "precision": round(tp / max(1, tp + fp), 4),
        "ap": round(ap, 4),
        "mask_accuracy_on_matched": round(mask_right / max(1, mask_right + mask_wrong), 4),
        "recall_by_class": {k: round(v[0] / v[1], 4) for k, v in sorted(per_class.items())},
        "recall_by_height": {k: round(v[0] / max(1, v[1]), 4) for k, v in bins.items()},
        "iou": iou_threshold,
    }


def fit_box_adjust(gt: dict, raw: dict, min_iou: float = 0.3) -> tuple[float, float, float, float]:
    """Median (centre x shift, centre y shift, width factor, height factor) from detector to
    annotated boxes, relative to the detector box, over confidently matched faces."""
    rows = []
    for stem, boxes in gt.items():
        for face in raw.get(stem, []):
            d = face["box"]
            best = max(boxes, key=lambda g: iou(d, g[1]), default=None)
            if best is None or iou(d, best[1]) < min_iou or face["score"] < 0.6:
                continue
            g = best[1]
            dw, dh = d[2] - d[0], d[3] - d[1]
            rows.append(
                (
                    ((g[0] + g[2]) - (d[0] + d[2])) / 2 / dw,
                    ((g[1] + g[3]) - (d[1] + d[3])) / 2 / dh,
                    (g[2] - g[0]) / dw,
                    (g[3] - g[1]) / dh,
                )
            )
    med = np.median(np.asarray(rows), axis=0)
    return tuple(round(float(v), 3) for v in med)  # type: ignore[return-value]


def fit_refine(gt: dict, candidates: dict, iou_threshold: float = 0.4) -> dict:
    """Refit refine.py's landmark box regression and confirmation weights and threshold.

    `candidates` maps stem to (RetinaFace detections, CenterFace detections, width, height).
    Box regression: ridge on confidently matched faces. Confirmation: logistic regression over the
    uncertain candidates, labelled by whether their regressed box matches an annotation; the
    threshold is the one with the best recall at precision >= 0.905 on these photos.
    """
    from detection.engine.pipeline import adjust_box
    from detection.engine.refine import ConfirmConfig, box_features, box_iou, confirm, landmark_box, logit

    raw = {s: [{"box": d.box, "score": d.score} for d in c[0]] for s, c in candidates.items()}
    adjust = fit_box_adjust(gt, raw)
    truth = {s: np.array([g for _, g in gt[s]], dtype=np.float64).reshape(-1, 4) for s in candidates}
    x_box, y_box = [], []
    for stem, (faces, _, width, height) in candidates.items():
        for d in faces:
            overlap = box_iou(adjust_box(d.box, adjust, width, height), truth[stem])
            if d.score < 0.5 or not len(overlap) or overlap.max() < 0.3:
                continue
            g, b = truth[stem][overlap.argmax()], d.box
            dw, dh = b[2] - b[0], b[3] - b[1]
            x_box.append(box_features(d))
            y_box.append(
                [
                    ((g[0] + g[2]) - (b[0] + b[2])) / 2 / dw,
                    ((g[1] + g[3]) - (b[1] + b[3])) / 2 / dh,
                    np.log((g[2] - g[0]) / dw),
                    np.log((g[3] - g[1]) / dh),
                ]
            )
    xb = np.asarray(x_box)
    regression = np.linalg.solve(xb.T @ xb + np.eye(xb.shape[1]), xb.T @ np.asarray(y_box))
    weights_box = tuple(tuple(round(float(v), 4) for v in row) for row in regression)
    base = ConfirmConfig()
    x_lr, y_lr = [], []
    for stem, (faces, second, width, height) in candidates.items():
        others = np.array([d.box for d in second], dtype=np.float64).reshape(-1, 4)
        other_scores = np.array([d.score for d in second])
        for d in faces:
            if d.score >= base.uncertain_below:
                continue
            agree_mask = box_iou(d.box, others) >= base.agree_iou
            agree = float(other_scores[agree_mask].max()) if agree_mask.any() else 0.0
            x_lr.append([logit(d.score), np.log(max(d.height, 1.0)) - 3, logit(agree), 1.0])
            overlap = box_iou(landmark_box(d, weights_box, width, height), truth[stem])
            y_lr.append(float(len(overlap) > 0 and overlap.max() >= iou_threshold))
    x, y, w = np.asarray(x_lr, dtype=np.float64), np.asarray(y_lr), np.zeros(4)
    for _ in range(50):  # Newton steps, light L2
        p = 1 / (1 + np.exp(-x @ w))
        hessian = (x * (p * (1 - p))[:, None]).T @ x + 1e-2 * np.eye(4)
        w -= np.linalg.solve(hessian, x.T @ (p - y) + 1e-2 * w)
    weights_lr = tuple(round(float(v), 3) for v in w)
    best = (0.5, -1.0)
    for threshold in np.arange(0.3, 0.8, 0.01):
        config = ConfirmConfig(weights=weights_lr, threshold=float(threshold))
        preds = {
            s: [
                {"box": landmark_box(d, weights_box, c[2], c[3]), "score": d.score} for d in confirm(c[0], c[1], config)
            ]
            for s, c in candidates.items()
        }
        result = score({s: gt[s] for s in candidates}, preds, iou_threshold)
        if result["precision"] >= 0.905 and result["recall"] > best[1]:
            best = (round(float(threshold), 2), result["recall"])
    return {"box_regression": weights_box, "confirm_weights": weights_lr, "confirm_threshold": best[0]}


def subset(stems: list[str], which: str) -> list[str]:
    stems = sorted(stems)
    if which == "even":
        return stems[0::2]
    if which == "odd":
        return stems[1::2]
    return stems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", default="accurate", choices=("accurate", "fast"))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--images", default="all", choices=("all", "even", "odd"))
    parser.add_argument("--jsonl", type=Path, help="also write the analyze --json lines here")
    parser.add_argument("--fit-box-adjust", action="store_true", help="print a fitted box adjustment")
    parser.add_argument("--fit-refine", action="store_true", help="print a refitted refine.py model (accurate)")
    parser.add_argument("--classifier", type=Path, help="classifier file (default: the committed one)")
    args = parser.parse_args()

    import cv2

    from detection.engine.imageio import decode_image
    from detection.engine.pipeline import Pipeline, PipelineConfig

    cv2.setNumThreads(1)
    gt_all = load_ground_truth(args.data / "annotations")
    stems = subset(list(gt_all), args.images)
    gt = {s: gt_all[s] for s in stems}
    config = PipelineConfig.preset(args.mode, num_threads=1)
    if args.classifier:
        config = PipelineConfig.preset(args.mode, num_threads=1, classifier_path=args.classifier)
    if args.fit_box_adjust:
        config = config.with_box_adjust((0.0, 0.0, 1.0, 1.0))
    pipeline = Pipeline(config)
    if args.fit_refine:
        candidates = {}
        for stem in stems:
            image = decode_image(args.data / "images" / f"{stem}.jpg")
            second = pipeline.confirmer.detect(image) if pipeline.confirmer is not None else []
            candidates[stem] = (pipeline.detector.detect(image), second, image.shape[1], image.shape[0])
        print(json.dumps({"mode": args.mode, "images": args.images, **fit_refine(gt, candidates)}))
        return 0
    preds, lines, elapsed = {}, [], []
    for stem in stems:
        path = args.data / "images" / f"{stem}.jpg"
        image = decode_image(path)
        start = time.perf_counter()
        analysis = pipeline.analyze(image, recognize=False)
        elapsed.append((time.perf_counter() - start) * 1000)
        record = analysis.to_dict(image=str(path))
        preds[stem] = record["faces"]
        lines.append(json.dumps(record))
    if args.fit_box_adjust:
        print(json.dumps({"box_adjust": fit_box_adjust(gt, preds), "mode": args.mode, "images": args.images}))
        return 0
    result = score(gt, preds)
    result["mode"] = args.mode
    result["subset"] = args.images
    result["median_ms_per_image"] = round(float(np.median(elapsed)), 1)
    print(json.dumps(result))
    if args.images == "all":
        held_out = subset(stems, "odd")
        odd = score({s: gt[s] for s in held_out}, preds)
        print(json.dumps({"subset": "odd (held out from the box-adjustment fit)", **odd}))
    out = args.jsonl or Path(tempfile.mkstemp(suffix=".jsonl")[1])
    out.write_text("\n".join(lines) + "\n")
    if REFERENCE_SCORER.exists() and args.images == "all":
        ref = subprocess.run(
            [sys.executable, str(REFERENCE_SCORER), str(args.data / "annotations"), str(out)],
            capture_output=True,
            text=True,
            check=False,
        )
        print("reference scorer:", ref.stdout.strip() or ref.stderr.strip())
    if not args.jsonl:
        out.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
