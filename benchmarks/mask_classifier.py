"""Mask classifier benchmark: accuracy (val, dev-set ground-truth crops) and TFLite latency.

    .venv/bin/python benchmarks/mask_classifier.py                      # the committed model
    .venv/bin/python benchmarks/mask_classifier.py --update-card        # and fill its card's table
    .venv/bin/python benchmarks/mask_classifier.py --compare var/runs/a var/runs/b   # input sizes

Writes metrics JSON and PNG plots (confusion matrix, calibration) to
benchmarks/reports/mask_classifier/. Latency: LiteRT, one thread, median of repeated runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _datasets import DATASETS  # noqa: E402
from report import write_report  # noqa: E402

from detection.engine.classifier import DEFAULT_MODEL as MODEL  # noqa: E402
from detection.engine.hardware import describe_cpu  # noqa: E402
from training.ml.card import replace_benchmark_section  # noqa: E402
from training.ml.data import Sample, build_crops, list_samples  # noqa: E402
from training.ml.devset import evaluate_dev_set, load_dev_faces  # noqa: E402
from training.ml.evaluate import classification_metrics, save_plots  # noqa: E402
from training.ml.export import TFLiteClassifier, sha256_of  # noqa: E402

REPORT = REPO / "benchmarks" / "reports" / "mask_classifier"
#: What `--baseline` measures of the earlier model.
COMPARED = ("val", "synthetic_on_val_faces", "dev_ground_truth_crops_odd_half")


def latency_ms(model: Path, batch: int, runs: int = 200) -> float:
    """Median wall time of one invoke on `batch` crops, one thread, after warm-up."""
    classifier = TFLiteClassifier(model, num_threads=1)
    crops = np.random.default_rng(0).integers(0, 256, (batch, classifier.input_size, classifier.input_size, 3))
    crops = crops.astype(np.float32)
    for _ in range(20):
        classifier.predict(crops)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        classifier.predict(crops)
        times.append(time.perf_counter() - start)
    return round(1000 * statistics.median(times), 3)


def evaluate(model: Path, data_dir: Path, dev_dir: Path, plots: Path | None) -> dict:
    classifier = TFLiteClassifier(model)
    val = [s for s in list_samples(data_dir) if s.split == "val"]
    crops = build_crops(val, classifier.input_size, with_context=False)
    probs = classifier.predict(crops.crops)
    result = {
        "model": str(model.relative_to(REPO) if model.is_relative_to(REPO) else model),
        "input_size": classifier.input_size,
        "size_mb": round(model.stat().st_size / 1e6, 3),
        "val": classification_metrics(crops.labels, probs),
        "latency_ms_1_crop": latency_ms(model, 1),
        "latency_ms_batch_8": latency_ms(model, 8),
    }
    result["synthetic_on_val_faces"] = synthetic_check(classifier, val)
    if dev_dir.exists():
        result["dev_ground_truth_crops"] = evaluate_dev_set(classifier, dev_dir)
        # the odd half is never trained on (the even half may be): the honest street-photo figure
        result["dev_ground_truth_crops_odd_half"] = evaluate_dev_set(classifier, dev_dir, half="odd")
    if plots is not None:
        save_plots(crops.labels, probs, plots / "val", "val (mask-classification), TFLite")
        if dev_dir.exists():
            dev_crops, names, _ = load_dev_faces(dev_dir, classifier.input_size)
            keep = np.isin(names, ["with_mask", "without_mask"])
            save_plots(
                (names[keep] == "with_mask").astype(int),
                classifier.predict(dev_crops[keep]),
                plots / "dev",
                "mask-detection-dev GT crops, TFLite",
            )
    return result


def synthetic_check(classifier: TFLiteClassifier, val: list[Sample], seed: int = 7) -> dict:
    """Share right on the val split's unmasked faces (never trained on) drawn on as training draws:
    masks by colour (pink and lavender were called "without mask" in held-out photos), and hands,
    beards and objects over the mouth, which are not masks."""
    from detection.engine.crops import crop_face
    from detection.engine.imageio import decode_image
    from training.ml.faces import detect_face
    from training.ml.synthetic import DRAW_OCCLUDER, NAMED_MASK_COLOURS, fabric_mask

    colours = {name: NAMED_MASK_COLOURS[name] for name in ("pink", "lavender", "black", "red")}
    rng = np.random.default_rng(seed)
    right: dict[str, list[bool]] = {k: [] for k in (*colours, "printed", *DRAW_OCCLUDER)}
    size = classifier.input_size
    for sample in (s for s in val if s.label == 0):
        image = decode_image(sample.path)
        face = detect_face(image)
        if face is None:
            continue
        batch, kinds = [], []
        for name, colour in colours.items():
            plain = fabric_mask(image, face.landmarks, np.random.default_rng(0), colour=colour, printed=False)
            batch.append(plain)
            kinds.append(name)
        batch.append(fabric_mask(image, face.landmarks, rng, printed=True))
        kinds.append("printed")
        for name, draw in DRAW_OCCLUDER.items():
            batch.append(draw(image, face.landmarks, rng))
            kinds.append(name)
        probs = classifier.predict(np.stack([crop_face(b, face.box, size) for b in batch]))
        for kind, p in zip(kinds, probs, strict=True):
            right[kind].append(bool(p >= 0.5) == (kind not in DRAW_OCCLUDER))
    return {k: {"n": len(v), "accuracy": round(float(np.mean(v)), 4) if v else None} for k, v in right.items()}


def _pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.2f}%"


def _dev_cell(dev: dict | None) -> str:
    """'accuracy (<20 / 20-40 / >40 px)' of one dev-set evaluation."""
    if not dev:
        return "n/a"
    by = dev["accuracy_by_face_height"]
    return f"{_pct(dev['accuracy'])} ({' / '.join(_pct(by[k]['accuracy']) for k in ('<20', '20-40', '>40'))})"


def table(results: list[dict]) -> str:
    lines = [
        "| input | size | val acc | dev GT acc, all photos (<20 / 20-40 / >40 px) "
        "| dev GT acc, odd half held out (<20 / 20-40 / >40 px) | 1 crop ms | batch 8 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['input_size']} | {r['size_mb']} MB | {_pct(r['val']['accuracy'])} "
            f"| {_dev_cell(r.get('dev_ground_truth_crops'))} | {_dev_cell(r.get('dev_ground_truth_crops_odd_half'))} "
            f"| {r['latency_ms_1_crop']} | {r['latency_ms_batch_8']} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--data", type=Path, default=DATASETS / "mask-classification")
    parser.add_argument("--dev", type=Path, default=DATASETS / "mask-detection-dev")
    parser.add_argument("--compare", type=Path, nargs="*", help="run folders holding mask_classifier.tflite")
    parser.add_argument("--update-card", action="store_true", help="write the table into the model's card")
    parser.add_argument("--baseline", type=Path, help="an earlier .tflite to measure beside the model, for comparison")
    args = parser.parse_args()
    if not args.data.exists():
        print(f"{args.data} is absent: nothing to measure", file=sys.stderr)
        return 1
    REPORT.mkdir(parents=True, exist_ok=True)
    if args.compare:
        results = [evaluate(run / "mask_classifier.tflite", args.data, args.dev, None) for run in args.compare]
        (REPORT / "input_sizes.json").write_text(json.dumps(results, indent=2))
        print(table(results))
        return 0
    result = evaluate(args.model, args.data, args.dev, REPORT)
    if args.baseline:
        before = evaluate(args.baseline, args.data, args.dev, None)
        result["baseline"] = {
            "model": f"{args.baseline.name}, SHA-256 {sha256_of(args.baseline)[:12]}",
            **{k: before[k] for k in COMPARED if k in before},
        }
    (REPORT / "metrics.json").write_text(json.dumps(result, indent=2))
    write_report(
        "mask_classifier",
        "Mask classifier (val split and dev-set ground-truth crops; LiteRT, one thread)",
        {k: v for k, v in result.items() if k != "model"},
        targets={"val / accuracy": ">= 0.995", "latency_ms_1_crop": "<= 2", "latency_ms_batch_8": "<= 8"},
    )
    text = table([result])
    print(text)
    if args.update_card:
        command = "`.venv/bin/python benchmarks/mask_classifier.py --update-card`"
        replace_benchmark_section(
            args.model.with_suffix(".md"),
            f"Measured by {command} on {time.strftime('%Y-%m-%d')} (LiteRT, one thread, median of 200 runs; "
            f"{describe_cpu()}):\n\n{text}",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
