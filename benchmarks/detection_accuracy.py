"""End-to-end mask detection accuracy on the dev set (same scoring as ../shared/tools/score_detection.py).

usage: python benchmarks/detection_accuracy.py [--mode accurate|fast] [--data DIR] [--images all|even|odd]
       [--jsonl OUT.jsonl] [--fit-box-adjust] [--classifier PATH]

Runs the engine's Pipeline (no recognition) over every photo, scores greedily by score at IoU >= 0.4 and
prints recall, precision, AP, recall by face height, mask accuracy on matched with/without faces.
`--images even|odd` scores half of the photos (sorted by name): the box adjustment was fitted on the
even half (`--fit-box-adjust --images even`), so the odd half is the honest held-out figure (printed
on a second line when all photos are scored). Accurate mode's re-scorer and box regression are
fitted, and their out-of-fold figures reported, by benchmarks/rescorer.py.
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

from detection.engine.refine import pair_iou  # noqa: E402

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


def height_bin(h: float) -> str:
    return "<20" if h < 20 else ("20-40" if h <= 40 else ">40")


def match_photo(boxes: list, faces: list[dict], iou_threshold: float = 0.4) -> dict:
    """One photo's greedy matching by score: ranked (score, hit) pairs, and per annotated face its
    class, height bin, whether it was found and whether the mask was right."""
    hit: list[int | None] = [None] * len(boxes)
    ranked = []
    for i in sorted(range(len(faces)), key=lambda i: -faces[i].get("score", 0)):
        best, best_j = 0.0, -1
        for j, (_, g) in enumerate(boxes):
            if hit[j] is None and (v := pair_iou(faces[i]["box"], g)) > best:
                best, best_j = v, j
        if best >= iou_threshold:
            hit[best_j] = i
        ranked.append((faces[i].get("score", 0), int(best >= iou_threshold)))
    truth = [
        (cls, height_bin(g[3] - g[1]), hit[j] is not None, hit[j] is not None and faces[hit[j]].get("mask") == cls)
        for j, (cls, g) in enumerate(boxes)
    ]
    return {"ranked": ranked, "truth": truth}


def aggregate(outcomes: list[dict], iou_threshold: float = 0.4) -> dict:
    """Recall, precision, AP (all-point) and mask accuracy over photos' `match_photo` outcomes."""
    ranked = sorted((r for o in outcomes for r in o["ranked"]), key=lambda t: -t[0])
    truth = [t for o in outcomes for t in o["truth"]]
    n_gt, tp = len(truth), sum(t for _, t in ranked)
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
    per_class: dict[str, list[int]] = {}
    bins = {b: [0, 0] for b in HEIGHT_BINS}
    mask = [0, 0]
    for cls, size, found, right in truth:
        for counter in (per_class.setdefault(cls, [0, 0]), bins[size]):
            counter[0] += found
            counter[1] += 1
        if found and cls in ("with_mask", "without_mask"):
            mask[0] += right
            mask[1] += 1
    return {
        "images": len(outcomes),
        "gt_faces": n_gt,
        "recall": round(tp / max(1, n_gt), 4),
        "precision": round(tp / max(1, len(ranked)), 4),
        "ap": round(ap, 4),
        "mask_accuracy_on_matched": round(mask[0] / max(1, mask[1]), 4),
        "recall_by_class": {k: round(v[0] / v[1], 4) for k, v in sorted(per_class.items())},
        "recall_by_height": {k: round(v[0] / max(1, v[1]), 4) for k, v in bins.items()},
        "iou": iou_threshold,
    }


def score(gt: dict, preds: dict, iou_threshold: float = 0.4) -> dict:
    """Greedy matching by score per image, then recall, precision, AP and mask accuracy.

    `preds` maps image stem to a list of face dicts with "box", "score" and optionally "mask".
    """
    return aggregate(
        [match_photo(boxes, preds.get(stem, []), iou_threshold) for stem, boxes in gt.items()], iou_threshold
    )


def fit_box_adjust(gt: dict, raw: dict, min_iou: float = 0.3) -> tuple[float, float, float, float]:
    """Median (centre x shift, centre y shift, width factor, height factor) from detector to
    annotated boxes, relative to the detector box, over confidently matched faces."""
    rows = []
    for stem, boxes in gt.items():
        for face in raw.get(stem, []):
            d = face["box"]
            best = max(boxes, key=lambda g: pair_iou(d, g[1]), default=None)
            if best is None or pair_iou(d, best[1]) < min_iou or face["score"] < 0.6:
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
