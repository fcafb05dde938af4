"""Close-ups: is a face found in every face crop and every portrait, and is its mask state right?

usage: nice -n 5 python benchmarks/closeups.py [--datasets DIR] [--every N]

Runs accurate mode (as uploads do) over the val split of `mask-classification` (face crops, many
filling the frame) and every `face-recognition-dev` portrait, and reports the share of images with
at least one face, how the face was found (detector, framed photo, whole image), and on the val
split the mask state of the most prominent face against the image's label. Writes
benchmarks/reports/closeups.json. Targets: a face in 100% of both; val classification >= 99.7%.
"""

from __future__ import annotations

import csv
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _datasets import dataset_dirs, datasets_parser  # noqa: E402
from report import write_report  # noqa: E402

if TYPE_CHECKING:
    from detection.engine.pipeline import FaceResult

#: The most prominent face is the one with the largest area x score ** MAIN_FACE_SCORE_POWER: a big but
#: barely accepted box (a shirt, a hood) must not outweigh a confident face. The power was chosen on the
#: train split of mask-classification (fewest main-face mask errors among 1, 2, 4 and 8), never on val.
MAIN_FACE_SCORE_POWER = 8


def main_face(faces: list[FaceResult]) -> FaceResult:
    """The face an image's label speaks of: the largest, weighted by how sure the engine is of it."""
    return max(
        faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]) * max(f.score, 1e-3) ** MAIN_FACE_SCORE_POWER
    )


def val_images(root: Path) -> list[tuple[Path, str]]:
    """(image, label) of the fixed val split of mask-classification."""
    with (root / "manifest.csv").open() as fh:
        return [(root / row["path"], row["label"]) for row in csv.DictReader(fh) if row["split"] == "val"]


def portraits(root: Path) -> list[tuple[Path, str | None]]:
    return [(p, None) for p in sorted(root.rglob("*")) if p.suffix.lower() in (".jpg", ".jpeg", ".png")]


def measure(pipeline, images: list[tuple[Path, str | None]]) -> dict:
    """Share of images with a face, how found, and (where labelled) mask accuracy of the main face."""
    from detection.engine.imageio import decode_image

    found, how, right, labelled, missed, several = 0, Counter(), 0, 0, [], 0
    errors: list[str] = []
    for path, label in images:
        faces = pipeline.analyze(decode_image(path), recognize=False).faces
        if not faces:
            missed.append(path.name)
            continue
        found += 1
        several += len(faces) > 1
        main = main_face(faces)
        how[main.fallback or "detector"] += 1
        if label is not None:
            labelled += 1
            right += main.mask == label
            if main.mask != label:
                errors.append(f"{path.name}: {main.mask} ({main.mask_score:.3f}), {main.fallback or 'detector'}")
    out = {
        "images": len(images),
        "with_a_face": round(found / max(1, len(images)), 4),
        "found_by": dict(how),
        # a portrait or a face crop mostly shows one face: more are often boxes around hair or hoods
        "with_more_than_one_face": several,
        "missed": missed[:20],
    }
    if labelled:
        out["mask_accuracy_of_main_face"] = round(right / labelled, 4)
        out["main_face_mask_errors"] = errors
    return out


def main() -> int:
    parser = datasets_parser(__doc__)
    parser.add_argument("--every", type=int, default=1, help="use every Nth image (a quicker trial)")
    args = parser.parse_args()
    crops, people = dataset_dirs(args.datasets, "mask-classification", "face-recognition-dev")

    from detection.engine.pipeline import Pipeline, PipelineConfig

    pipeline = Pipeline(PipelineConfig.preset("accurate", num_threads=1))
    figures = {
        "mask_classification_val": measure(pipeline, val_images(crops)[:: args.every]),
        "face_recognition_dev_portraits": measure(pipeline, portraits(people)[:: args.every]),
    }
    write_report(
        "closeups",
        "Close-ups: a face in every face crop and portrait (accurate mode)",
        figures,
        targets={
            "mask_classification_val / with_a_face": "1.0",
            "face_recognition_dev_portraits / with_a_face": "1.0",
            "mask_classification_val / mask_accuracy_of_main_face": ">= 0.997",
        },
    )
    print(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
