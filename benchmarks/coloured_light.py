"""Masks under coloured light: does balancing strongly cast photos before classifying pay?

usage: nice -n 5 python benchmarks/coloured_light.py [--datasets DIR]

Under sodium or tungsten lamps a pale mask takes the colour of skin. The classifier balances a
photo's crops (grey-world) when the photo's brightest colour channel averages more than
`CAST_LIMIT` times its dimmest (`detection.engine.classifier.light_gains`). This measures:

* where the limit comes from: the cast strength of the classifier's training photos (percentiles);
* the held-out odd half of `mask-detection-dev` (ground-truth faces, detector-like boxes) in its own
  light and under three lamps of unchanged brightness, classified as cut (no balance) and as the
  engine cuts them (balanced where the limit is passed);
* every photo of the train and val splits of `mask-classification` past the limit: errors of the
  most prominent face without and with the balance (training saw the train photos unbalanced); and
  every annotated face of the `mask-detection-dev` photos past the limit.

Writes benchmarks/reports/coloured_light.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _datasets import dataset_dirs, datasets_parser  # noqa: E402
from report import write_report  # noqa: E402

#: Per-channel (R, G, B) gains of each lamp, scaled so brightness is unchanged.
LAMPS = {
    "sodium (1, .62, .32)": (1.0, 0.62, 0.32),
    "pale blue shade (.55, .8, 1)": (0.55, 0.8, 1.0),
    "deep blue shade (.35, .7, 1)": (0.35, 0.7, 1.0),
}
LUMA = (0.299, 0.587, 0.114)


def lit(image: np.ndarray, gains: tuple[float, float, float]) -> np.ndarray:
    g = np.asarray(gains) / np.dot(gains, LUMA)
    return np.clip(image * g, 0, 255).astype(np.uint8)


def main() -> int:
    parser = datasets_parser(__doc__)
    args = parser.parse_args()
    crops_dir, dev_dir = dataset_dirs(args.datasets, "mask-classification", "mask-detection-dev")

    from detection.engine.classifier import CAST_LIMIT, MaskClassifier, cast_strength
    from detection.engine.crops import crop_face, whole_image_box
    from detection.engine.imageio import decode_image
    from training.ml.data import list_samples
    from training.ml.devset import detector_like_box, iter_dev_faces
    from training.ml.faces import detect_face_box

    classifier = MaskClassifier()

    def as_cut(image: np.ndarray, box) -> float:
        crop = crop_face(image, box, classifier.input_size).astype(np.float32)
        return float(classifier.predict_crops(crop[None])[0])

    def as_engine(image: np.ndarray, box) -> float:
        return float(classifier.predict(image, [box])[0])

    # held-out street faces, in their own light and under each lamp
    faces = [
        (image, name == "with_mask", detector_like_box(box))
        for image, name, box in iter_dev_faces(dev_dir, "odd")
        if name in ("with_mask", "without_mask")
    ]
    truth = np.array([t for _, t, _ in faces])

    def accuracy(probabilities: list[float]) -> float:
        return round(float(((np.array(probabilities) >= classifier.threshold) == truth).mean()), 4)

    street: dict[str, dict] = {"own light": {"as cut": accuracy([as_cut(i, b) for i, _, b in faces])}}
    for lamp, gains in LAMPS.items():
        cache: dict[int, np.ndarray] = {}
        shown = [(cache.setdefault(id(i), lit(i, gains)), b) for i, _, b in faces]
        street[lamp] = {
            "photos_past_the_limit": round(float(np.mean([cast_strength(i) > CAST_LIMIT for i in cache.values()])), 3),
            "as cut": accuracy([as_cut(i, b) for i, b in shown]),
            "balanced past the limit": accuracy([as_engine(i, b) for i, b in shown]),
        }

    # real photos past the limit
    strengths: dict[str, list[float]] = {"train": [], "val": []}
    real: dict[str, dict] = {}
    for split in ("train", "val"):
        errors_cut, errors_balanced, names = 0, 0, []
        for sample in (s for s in list_samples(crops_dir) if s.split == split):
            image = decode_image(sample.path)
            strengths[split].append(cast_strength(image))
            if strengths[split][-1] <= CAST_LIMIT:
                continue
            box = detect_face_box(image) or whole_image_box(image.shape[1], image.shape[0])
            right_cut = (as_cut(image, box) >= classifier.threshold) == (sample.label == 1)
            right_balanced = (as_engine(image, box) >= classifier.threshold) == (sample.label == 1)
            errors_cut += not right_cut
            errors_balanced += not right_balanced
            if right_cut != right_balanced:
                names.append(f"{Path(sample.path).name}: {'fixed' if right_balanced else 'broken'}")
        real[split] = {
            "photos": len(strengths[split]),
            "past_the_limit": sum(s > CAST_LIMIT for s in strengths[split]),
            "errors_as_cut": errors_cut,
            "errors_balanced": errors_balanced,
            "changed": names,
        }
    # street photos past the limit: every annotated face, both halves
    dev_photos: list[bool] = []  # past the limit, per photo
    dev_faces = {"faces": 0, "errors_as_cut": 0, "errors_balanced": 0}
    photo = None
    for image, name, box in iter_dev_faces(dev_dir, "all"):
        if image is not photo:  # the faces of one photo come one after another
            photo = image
            dev_photos.append(cast_strength(image) > CAST_LIMIT)
        if not dev_photos[-1] or name not in ("with_mask", "without_mask"):
            continue
        masked, box = name == "with_mask", detector_like_box(box)
        dev_faces["faces"] += 1
        dev_faces["errors_as_cut"] += (as_cut(image, box) >= classifier.threshold) != masked
        dev_faces["errors_balanced"] += (as_engine(image, box) >= classifier.threshold) != masked
    real["mask-detection-dev"] = {"photos": len(dev_photos), "past_the_limit": sum(dev_photos), **dev_faces}

    figures = {
        "cast_limit": CAST_LIMIT,
        "train_cast_strength_percentiles": {
            f"p{q}": round(float(np.percentile(strengths["train"], q)), 2) for q in (50, 90, 99, 99.9)
        },
        "dev_odd_half_faces": len(faces),
        "dev_odd_half_accuracy": street,
        "real_photos_past_the_limit": real,
    }
    write_report(
        "coloured_light",
        "Masks under coloured light (grey-world balance past the cast limit)",
        figures,
        notes=[
            "The limit is the 99th percentile of the training photos' cast strength, so the balance"
            " leaves nearly every photo the classifier learnt from as it was.",
            "Lamps multiply the whole photo by per-channel gains; real lamps also clip and mix, so the"
            " lamp rows show the size of the effect, the real photos whether the balance does harm.",
        ],
    )
    print(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
