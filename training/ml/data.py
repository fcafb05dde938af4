"""Training data: list labelled photos, split them, and turn them into engine-style face crops.

A data source is either the shared ``mask-classification`` folder (its ``manifest.csv`` fixes
the train/val split), any folder with ``with_mask/`` and ``without_mask/`` subfolders, or an
explicit list of ``(path, label)`` pairs (the training-jobs issue passes database images). Without
a manifest the split is decided by a hash of each file's content, so it is stable across runs
and machines and a duplicate file can never sit in both splits.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detection.engine.crops import crop_face, whole_image_box
from detection.engine.imageio import ImageDecodeError, decode_image
from detection.engine.types import MASK_STATES
from training.ml.faces import BoxCache, detect_face_box, file_key

log = logging.getLogger(__name__)

CLASSES = MASK_STATES  # label 1 = with_mask, the model's sigmoid output
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif"}
VAL_FRACTION = 0.15
#: Extra margin of the cached training crops, so augmentation can jitter the box like a detector.
CONTEXT_MARGIN = 0.35


class DataError(ValueError):
    """The training data cannot be used; the message says why and where."""


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int  # 1 = with_mask
    split: str  # "train" | "val"


def _label_index(label: str | int) -> int:
    if isinstance(label, (int, np.integer)) and int(label) in (0, 1):
        return int(label)
    if label in CLASSES:
        return CLASSES.index(label)
    raise DataError(f"unknown label {label!r}; expected one of {CLASSES}")


def _hash_split(path: Path, val_fraction: float) -> str:
    try:
        digest = hashlib.md5(path.read_bytes()).digest()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return "val" if int.from_bytes(digest[:4], "big") / 2**32 < val_fraction else "train"


def list_samples(
    source: str | Path | Sequence[tuple[str | Path, str | int]],
    val_fraction: float = VAL_FRACTION,
) -> list[Sample]:
    """All labelled photos of a data source, with their split; raises DataError when unusable."""
    if isinstance(source, (str, Path)):
        root = Path(source)
        if not root.is_dir():
            raise DataError(f"data folder {root} does not exist or is not a folder")
        manifest = root / "manifest.csv"
        if manifest.exists():
            samples = _from_manifest(root, manifest)
        else:
            pairs = []
            for name in CLASSES:
                folder = root / name
                if folder.is_dir():
                    pairs += [
                        (p, name)
                        for p in sorted(folder.rglob("*"))
                        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                    ]
            if not any((root / name).is_dir() for name in CLASSES):
                raise DataError(f"{root} has neither a manifest.csv nor with_mask/ and without_mask/ subfolders")
            samples = [Sample(p, _label_index(lab), _hash_split(p, val_fraction)) for p, lab in pairs]
    else:
        samples = [Sample(Path(p), _label_index(lab), _hash_split(Path(p), val_fraction)) for p, lab in source]
    _check_classes(samples, str(source) if isinstance(source, (str, Path)) else "the given list")
    return samples


def _from_manifest(root: Path, manifest: Path) -> list[Sample]:
    samples = []
    with manifest.open(newline="") as fh:
        for row in csv.DictReader(fh):
            try:
                split = row["split"]
                if split not in ("train", "val"):
                    raise DataError(f"{manifest}: split {split!r} is neither train nor val")
                samples.append(Sample(root / row["path"], _label_index(row["label"]), split))
            except KeyError as exc:
                raise DataError(f"{manifest} lacks the column {exc}; need path,label,split") from exc
    return samples


def _check_classes(samples: list[Sample], where: str) -> None:
    if not samples:
        raise DataError(f"no images found in {where} (looked for {sorted(IMAGE_SUFFIXES)})")
    for split in ("train", "val"):
        part = [s for s in samples if s.split == split]
        present = {s.label for s in part}
        if len(present) < 2:
            missing = [CLASSES[i] for i in (0, 1) if i not in present]
            raise DataError(
                f"{where}: the {split} split has no {' or '.join(missing)} images "
                f"({len(part)} images in it); need both classes in train and val"
            )


@dataclass
class CropSet:
    """Face crops of one split: ``context`` crops (for jittered training) and exact crops."""

    crops: np.ndarray  # (N, S, S, 3) uint8: exactly what the engine feeds the model
    context: np.ndarray | None  # (N, C, C, 3) uint8 with CONTEXT_MARGIN, or None
    labels: np.ndarray  # (N,) int
    face_found: np.ndarray  # (N,) bool
    paths: list[str]


def context_size(input_size: int) -> int:
    """Side of the context crop whose centre (1 + 2 * CROP_MARGIN) part is the nominal crop."""
    from detection.engine.crops import CROP_MARGIN

    return int(round(input_size * (1 + 2 * CONTEXT_MARGIN) / (1 + 2 * CROP_MARGIN)))


def build_crops(
    samples: Sequence[Sample],
    input_size: int,
    with_context: bool,
    box_cache: BoxCache | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> CropSet:
    """Detect the face in every photo and crop it as the engine does; raises DataError on bad files.

    Where no face is found the whole photo (its longer-side square) is used.
    """
    cache = box_cache if box_cache is not None else BoxCache()
    n = len(samples)
    crops = np.zeros((n, input_size, input_size, 3), np.uint8)
    csize = context_size(input_size)
    context = np.zeros((n, csize, csize, 3), np.uint8) if with_context else None
    found = np.zeros(n, bool)
    bad: list[str] = []
    for i, sample in enumerate(samples):
        try:
            image = decode_image(sample.path)
            key = file_key(sample.path)
        except (ImageDecodeError, OSError) as exc:
            bad.append(f"{sample.path}: {exc}")
            continue
        hit, box = cache.get(key)
        if not hit:
            box = detect_face_box(image)
            cache.put(key, box)
        found[i] = box is not None
        if box is None:
            box = whole_image_box(image.shape[1], image.shape[0])
        crops[i] = crop_face(image, box, input_size)
        if context is not None:
            context[i] = crop_face(image, box, csize, margin=CONTEXT_MARGIN)
        if progress and (i + 1) % 200 == 0:
            progress(i + 1, n)
    cache.save()
    if bad:
        listing = "\n  ".join(bad[:10])
        more = f"\n  ... and {len(bad) - 10} more" if len(bad) > 10 else ""
        raise DataError(f"{len(bad)} unreadable image(s):\n  {listing}{more}")
    return CropSet(
        crops=crops,
        context=context,
        labels=np.array([s.label for s in samples], np.int64),
        face_found=found,
        paths=[str(s.path) for s in samples],
    )
