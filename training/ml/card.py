"""The model card written beside every exported classifier (Markdown).

It records what a model was trained on and how, how good it is, and the SHA-256 of the exact
``.tflite`` it describes, so a card can never silently describe another file.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from detection.engine.hardware import describe_cpu
from detection.engine.types import MASK_STATES
from training.ml.augment import BLUR_PROB, DOWNSCALE_PROB, JITTER_SCALE, JITTER_SHIFT, MIN_FACE_PX
from training.ml.data import CONTEXT_MARGIN
from training.ml.faces import TRAINING_DETECTOR

BENCHMARK_START = "<!-- benchmark:start -->"
BENCHMARK_END = "<!-- benchmark:end -->"

SOURCES = """\
- **mask-classification** (train / val): the Kaggle "Face Mask Dataset" by Omkar Gurav (7,553 images),
  as mirrored on GitHub in dataIA-2021/Projet_10_Eric_Cesar; exact duplicates removed (7,281 left), fixed
  split by source md5 (`manifest.csv`). Many with_mask images are real photos, some have masks pasted on.
- **mask-detection-dev**: the Kaggle "Face Mask Detection" dataset by andrewmvd (CC0),
  530 photos as mirrored in hittheant/475Project; faces cropped from its ground-truth boxes. Evaluation,
  and, when the data section says so, its even half of photos as extra training faces.
- **ImageNet weights**: MobileNetV2 1.0 224 from google-coral/test_data (Apache-2.0),
  `tf2_mobilenet_v2_1.0_224_ptq.tflite`, dequantised into Keras by `training/ml/imagenet_import.py`."""


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}%"


def _street_faces_lines(extra: dict | None) -> list[str]:
    if not extra:
        return []
    return [
        f"- Street faces added to train: the {extra['half']} half of `{extra['dir']}` ({extra['photos']}"
        f" photos; faces {extra['faces']}, `mask_weared_incorrect` skipped), cropped with `crop_face`"
        " from the annotated box and from the detector-like box the engine crops (the"
        " detector-to-annotation box offset `training.ml.devset.DETECTOR_TO_ANNOTATION` undone), each face"
        f" {extra['copies_per_face']} times ({extra['crops']} crops). The odd half stays held out.",
    ]


def _synthetic_lines(counts: dict | None) -> list[str]:
    if not counts:
        return []
    return [
        f"- Synthetic variety (`training/ml/synthetic.py`), drawn from the landmarks of the unmasked"
        f" training faces: {counts['masks']} masks in colours and prints the data lacks (pink, lavender,"
        f" black, red, green, navy; plain, stripes, dots, check, blotches), shaded by the face's light,"
        f" labelled with_mask; lower faces covered by something that is not a mask, labelled"
        f" without_mask: {counts['hand']} hands, {counts['beard']} beards, {counts['object']} held"
        f" objects; {counts['profile_squeezed']} of these squeezed sideways like a turned head"
        f" ({counts['skipped']} faces skipped: no landmarks).",
    ]


def _synthetic_limits(counts: dict | None) -> list[str]:
    if not counts:
        return []
    return [
        "- The synthetic masks, hands, beards and turned heads are drawn, not photographed: they teach",
        "  colours, prints and occlusions the photos lack, but real photos of them remain the better data.",
    ]


def _limits(extra: dict | None) -> list[str]:
    if not extra:
        return [
            "- Trained on close-up faces, many with pasted-on masks; judged on street photos by the",
            "  dev-set figures above. `mask_weared_incorrect` is not a class: such faces get either label.",
        ]
    return [
        "- Trained mostly on close-up faces (many with pasted-on masks) plus the dev set's even half of",
        "  street photos: its 'all photos' figures include faces trained on; the odd half is the honest",
        "  street-photo figure. `mask_weared_incorrect` is not a class: such faces get either label.",
    ]


def _metrics_table(name: str, m: dict) -> list[str]:
    rows = [
        f"| {name} | {m['n']} | {_pct(m['accuracy'])} | "
        + " | ".join(
            f"{m['per_class'][c]['precision']:.4f} / {m['per_class'][c]['recall']:.4f} / {m['per_class'][c]['f1']:.4f}"
            for c in reversed(MASK_STATES)
        )
        + f" | {m['roc_auc']:.4f} | {m['ece']:.4f} |"
    ]
    return rows


def write_card(
    path: Path | str,
    *,
    sha256: str,
    size_bytes: int,
    metrics: dict,
    params: dict,
    history: list[dict],
    command: str,
) -> Path:
    """Render the card; the text between the benchmark markers is filled by benchmarks/."""
    path = Path(path)
    lines = [
        *_identity_section(sha256, size_bytes, params, command),
        *_interface_section(params["input_size"]),
        *_training_section(params),
        *_data_section(metrics, params),
        *_metrics_section(metrics),
        *_history_section(history),
        "",
        "## Benchmarks",
        BENCHMARK_START,
        "(not run yet: `python benchmarks/mask_classifier.py`)",
        BENCHMARK_END,
        "",
        "## Sources and credits",
        SOURCES,
        "",
        "## Limits",
        *_limits(metrics["data"].get("extra_dev_half")),
        *_synthetic_limits(metrics["data"].get("synthetic")),
        "",
    ]
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines))
    os.replace(tmp, path)
    return path


def _identity_section(sha256: str, size_bytes: int, params: dict, command: str) -> list[str]:
    """Which file the card describes (its hash), and when, how and where it was trained."""
    return [
        "# Mask classifier (`mask_classifier.tflite`)",
        "",
        "Binary classifier for one face crop: probability that the face wears a mask.",
        "",
        f"- **File**: `mask_classifier.tflite`, {size_bytes / 1e6:.2f} MB, SHA-256 `{sha256}`",
        f"- **Trained**: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- **Training command**: `{command}`",
        f"- **Training time**: {params['training_seconds']} s on {describe_cpu()}",
        "",
    ]


def _interface_section(size: int) -> list[str]:
    """The contract the engine relies on: input, output, crops and number formats."""
    return [
        "## Interface",
        f"- Input: float32 RGB pixels in 0..255, shape (N, {size}, {size}, 3); the model rescales to",
        "  [-1, 1] itself (a Rescaling layer).",
        "- Output: shape (N, 1), sigmoid probability of `with_mask` (0.5 threshold for the label).",
        "- Crops: always `detection.engine.crops.crop_face(image_rgb, box, size)` (square, margin"
        " 0.15 of the box side on every side, edge-replicated outside the frame); in a photo lit by"
        " strongly coloured light the engine balances them first"
        " (`detection.engine.classifier.light_gains`).",
        "- Weights and activations int8 (full-integer post-training quantisation calibrated on 300"
        " training crops); float32 in and out.",
        "",
    ]


def _training_section(params: dict) -> list[str]:
    return [
        "## Architecture and training",
        f"- Backbone `{params.get('backbone', 'mobilenetv2_1.00')}` at {params['input_size']} px, global average"
        f" pooling, dropout {params['dropout']}, one sigmoid unit. Initial weights: {params['initial_weights']}.",
        f"- Phase 1: {params['epochs_head']} epochs of the new head on frozen-backbone features"
        f" (Adam {params['head_lr']}). Phase 2: {params['epochs_finetune']} epochs"
        f" fine-tuning from `{params['finetune_from']}` to the top (Adam {params['finetune_lr']},"
        f" batch {params['batch_size']}), {params['schedule']}.",
        f"- Class weights {params['class_weight']}; seed {params['seed']}.",
        "",
    ]


def _data_section(metrics: dict, params: dict) -> list[str]:
    data = metrics["data"]
    return [
        "## Data and preprocessing",
        f"- Data: `{params['data_source']}`. Train {data['train']}, val"
        f" {data['val']} (fixed manifest split, or a content-hash split for plain"
        " folders).",
        *_street_faces_lines(data.get("extra_dev_half")),
        *_synthetic_lines(data.get("synthetic")),
        f"- Faces found with the engine's detector `{TRAINING_DETECTOR}` (the most prominent face);"
        f" where none is found the whole photo is used ({100 * (1 - data['face_found_rate']):.1f}%"
        " of photos). Crops exactly as the engine crops at run time.",
        f"- Augmentation (tf.data + Keras preprocessing layers): detector-like box jitter (scale"
        f" {JITTER_SCALE}, shift ±{JITTER_SHIFT} of the side, from a context crop with margin"
        f" {CONTEXT_MARGIN}), horizontal flip, rotation ±14°, zoom ±10%, brightness ±15%,"
        f" contrast ±25%, 5% grayscale, {int(100 * DOWNSCALE_PROB)}% down-scaled to"
        f" {MIN_FACE_PX}..{params['input_size'] // 2} px and back (small distant faces), {int(100 * BLUR_PROB)}%"
        " 3x3 blur.",
        "",
    ]


def _metrics_section(metrics: dict) -> list[str]:
    """The figures table (validation, and the dev set when scored) and accuracy by face height."""
    lines = [
        "## Metrics",
        "",
        "| set | n | accuracy | with_mask P / R / F1 | without_mask P / R / F1 | ROC AUC | ECE |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += _metrics_table("val, Keras float", metrics["val_keras"])
    lines += _metrics_table("val, exported TFLite int8", metrics["val_tflite"])
    dev = metrics.get("dev_ground_truth_crops")
    odd = metrics.get("dev_ground_truth_crops_odd_half")
    if dev:
        lines += _metrics_table("mask-detection-dev GT crops, all photos (TFLite)", dev)
    if odd:
        lines += _metrics_table("mask-detection-dev GT crops, odd half, held out (TFLite)", odd)
    lines += [
        "",
        f"TFLite minus Keras val accuracy: {metrics['tflite_minus_keras_accuracy_points']:+.3f} points.",
    ]
    for name, part in (("all photos", dev), ("odd half (held out)", odd)):
        if not part:
            continue
        by = part["accuracy_by_face_height"]
        lines += [
            "",
            f"mask-detection-dev ground-truth crops, {name}, by face height: "
            + ", ".join(f"{k} px {_pct(v['accuracy'])} (n={v['n']})" for k, v in by.items())
            + f". `mask_weared_incorrect` faces (n={part['mask_weared_incorrect']['n']}) called"
            f" with_mask: {_pct(part['mask_weared_incorrect']['share_predicted_with_mask'])}.",
        ]
    return lines


def _history_section(history: list[dict]) -> list[str]:
    lines = [
        "",
        "Training history (per epoch; the val figures are recorded, never used to choose):",
        "",
        "| phase | epoch | loss | acc | val_loss | val_acc |",
        "|---|---|---|---|---|---|",
    ]
    for h in history:
        lines.append(
            f"| {h['phase']} | {h['epoch']} | {h.get('loss', float('nan')):.4f} | "
            f"{h.get('accuracy', float('nan')):.4f} | {h.get('val_loss', float('nan')):.4f} | "
            f"{h.get('val_accuracy', float('nan')):.4f} |"
        )
    return lines


def replace_benchmark_section(card: Path | str, text: str) -> None:
    """Put the benchmark script's table into the card (the model file, and its hash, unchanged)."""
    card = Path(card)
    content = card.read_text()
    head, rest = content.split(BENCHMARK_START, 1)
    _, tail = rest.split(BENCHMARK_END, 1)
    tmp = card.with_suffix(".md.tmp")
    tmp.write_text(f"{head}{BENCHMARK_START}\n{text.strip()}\n{BENCHMARK_END}{tail}")
    os.replace(tmp, card)
