"""The training pool: labelled face photos the classifier learns from and is judged on.

Every image is stored once (keyed by the SHA-256 of its bytes) and assigned to the train or
the evaluation split by that hash, so the split never changes between runs and a duplicate can
never sit on both sides. Corrections from the detection log enter here automatically.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.dispatch import receiver
from PIL import Image

from detection.engine.crops import crop_face
from detection.engine.imageio import ImageDecodeError, decode_image, encode_image
from detection.services.uploads import UploadError, archiver_metadata, read_member, size_problem, zip_files
from detection.signals import face_reviewed, faces_erased
from training.models import TrainingImage

logger = logging.getLogger(__name__)

#: Share of the pool held out as the fixed evaluation set (by content hash).
EVAL_FRACTION = 0.15
#: Side of a correction crop cut from a log's stored image; the extra margin leaves the
#: training code room to find the face again and crop it as the engine does.
CORRECTION_CROP_SIZE = 256
CORRECTION_CROP_MARGIN = 0.5
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif"}
LABELS = tuple(TrainingImage.Label.values)
_EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "BMP": "bmp", "GIF": "gif"}


class PoolError(ValueError):
    """An image or a dataset cannot enter the pool; the message says why."""


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def split_for(digest: str) -> str:
    """The fixed split of an image: evaluation for the lowest EVAL_FRACTION of hash space."""
    position = int(digest[:8], 16) / 2**32
    return TrainingImage.Split.EVAL if position < EVAL_FRACTION else TrainingImage.Split.TRAIN


def _validated_extension(data: bytes) -> str:
    """Decode the image fully (size limits included) so nothing unusable is stored."""
    try:
        decode_image(data, max_pixels=settings.MAX_IMAGE_PIXELS)
        fmt = Image.open(io.BytesIO(data)).format or ""
    except ImageDecodeError as exc:
        raise PoolError(str(exc)) from exc
    ext = _EXTENSIONS.get(fmt.upper())
    if ext is None:
        raise PoolError(f"unsupported image format {fmt or 'unknown'}")
    return ext


def add_image(
    data: bytes,
    label: str,
    source: str,
    *,
    added_by=None,
    detected_face=None,
    split: str | None = None,
) -> tuple[TrainingImage, bool]:
    """Store one labelled image unless its bytes are already in the pool; returns (row, created).

    `split` None assigns it by content hash (a dataset's own manifest may fix it instead).
    """
    if label not in LABELS:
        raise PoolError(f"unknown label {label!r}; expected one of {', '.join(LABELS)}")
    if reason := size_problem(len(data)):
        raise PoolError(reason)
    digest = content_hash(data)
    existing = TrainingImage.objects.filter(content_hash=digest).first()
    if existing is not None:
        return existing, False
    ext = _validated_extension(data)
    row = TrainingImage(
        label=label,
        source=source,
        split=split or split_for(digest),
        content_hash=digest,
        added_by=added_by,
        detected_face=detected_face,
    )
    row.image.save(f"{digest[:2]}/{digest}.{ext}", ContentFile(data), save=False)
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:  # the same bytes arrived concurrently: keep the first
        row.image.delete(save=False)
        return TrainingImage.objects.get(content_hash=digest), False
    return row, True


# --- corrections ------------------------------------------------------------------------


def _face_crop_bytes(face) -> bytes | None:
    """The face's stored crop, else a crop cut from the log's stored image, else None."""
    if face.crop:
        try:
            with face.crop.open("rb") as fh:
                return fh.read()
        except OSError:
            logger.warning("face %s: stored crop %s is unreadable", face.pk, face.crop.name)
    log = face.log
    if not log.image:
        return None
    try:
        with log.image.open("rb") as fh:
            image = decode_image(fh.read(), max_pixels=settings.MAX_IMAGE_PIXELS)
    except (OSError, ImageDecodeError):
        logger.warning("log %s: stored image %s is unreadable", log.pk, log.image.name)
        return None
    # the stored image may be a downscaled copy of the analysed one
    scale_x = image.shape[1] / log.image_width if log.image_width else 1.0
    scale_y = image.shape[0] / log.image_height if log.image_height else 1.0
    box = [face.x1 * scale_x, face.y1 * scale_y, face.x2 * scale_x, face.y2 * scale_y]
    crop = crop_face(image, box, CORRECTION_CROP_SIZE, margin=CORRECTION_CROP_MARGIN)
    return encode_image(crop, "PNG")  # lossless: the crop is training data


@receiver(face_reviewed, dispatch_uid="training.pool.add_correction")
def _add_reviewed_face(sender, face, **kwargs) -> None:
    add_correction(face)


def add_correction(face) -> TrainingImage | None:
    """Put a reviewed face into the pool under its corrected label (called by the review service).

    A second correction of the same face relabels its pool image. Returns None, logged, when
    neither a crop nor the photo was stored (privacy settings), so a review never fails here.
    """
    label = face.corrected_mask_label or face.mask_label
    existing = TrainingImage.objects.filter(detected_face=face).first()
    if existing is not None:
        if existing.label != label:
            existing.label = label
            existing.save(update_fields=["label"])
        return existing
    data = _face_crop_bytes(face)
    if data is None:
        logger.info("face %s: no stored crop or photo, correction not added to the pool", face.pk)
        return None
    try:
        row, created = add_image(
            data,
            label,
            TrainingImage.Source.CORRECTION,
            added_by=face.reviewed_by,
            detected_face=face,
        )
    except PoolError as exc:
        logger.warning("face %s: correction not added to the pool: %s", face.pk, exc)
        return None
    if not created and row.source == TrainingImage.Source.CORRECTION and row.label != label:
        row.label = label  # the latest staff word wins for the same crop
        row.save(update_fields=["label"])
    return row


@receiver(faces_erased, dispatch_uid="training.pool.erase_faces")
def erase_faces(sender, face_ids, **kwargs) -> list[str]:
    """Forget pool images cut from detections of an erased person; returns their files, which the
    erasure deletes once its rows are gone."""
    rows = list(TrainingImage.objects.filter(detected_face_id__in=face_ids))
    TrainingImage.objects.filter(pk__in=[row.pk for row in rows]).delete()
    return [row.image.name for row in rows if row.image]


# --- dataset import ---------------------------------------------------------------------


@dataclass
class ImportReport:
    added: int = 0
    duplicates: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.added + self.duplicates + len(self.errors)

    def as_dict(self) -> dict:
        return {
            "added": self.added,
            "duplicates": self.duplicates,
            "failed": len(self.errors),
            "errors": self.errors[:50],
        }


@dataclass(frozen=True)
class ImportItem:
    name: str
    label: str
    read: Callable[[], bytes]
    split: str | None = None  # from a dataset manifest; None: decided by the content hash


def _label_of(parts: tuple[str, ...]) -> str | None:
    """The class folder a file sits in (`with_mask/`, `without_mask/`, at any depth)."""
    for part in reversed(parts[:-1]):
        if part in LABELS:
            return part
    return None


def _manifest_splits(root: Path) -> dict[str, str]:
    """path -> split from a `manifest.csv` (path,label,split) so a dataset keeps its own val set."""
    manifest = root / "manifest.csv"
    if not manifest.exists():
        return {}
    splits = {
        "train": TrainingImage.Split.TRAIN,
        "val": TrainingImage.Split.EVAL,
        "eval": TrainingImage.Split.EVAL,
        "test": TrainingImage.Split.EVAL,
    }
    with manifest.open(newline="") as fh:
        return {row["path"]: splits[row["split"]] for row in csv.DictReader(fh) if row.get("split") in splits}


def iter_folder(root: Path) -> Iterator[ImportItem]:
    """Every image under `root`'s class folders; a manifest.csv there fixes the split."""
    root = Path(root)
    if not root.is_dir():
        raise PoolError(f"{root} is not a folder")
    splits = _manifest_splits(root)
    found = False
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES or archiver_metadata(relative.as_posix()):
            continue
        label = _label_of(relative.parts)
        if label is not None:
            found = True
            yield ImportItem(str(relative), label, path.read_bytes, splits.get(relative.as_posix()))
    if not found:
        raise PoolError(f"{root} has no images in with_mask/ or without_mask/ folders")


def iter_zip(archive: zipfile.ZipFile) -> Iterator[ImportItem]:
    """Every image of a ZIP with class folders, listed and read as every ZIP upload is (archiver
    metadata skipped, unsafe paths and oversize members refused with the reason)."""
    try:
        files = zip_files(archive)
    except UploadError as exc:
        raise PoolError(str(exc)) from exc
    members = [
        (info, label)
        for info in files
        if PurePosixPath(info.filename).suffix.lower() in IMAGE_SUFFIXES
        and (label := _label_of(PurePosixPath(info.filename).parts)) is not None
    ]
    if not members:
        raise PoolError("the ZIP has no images in with_mask/ or without_mask/ folders")
    for info, label in members:
        yield ImportItem(info.filename, label, partial(read_member, archive, info))


def import_items(
    items: Iterable[ImportItem],
    *,
    source: str = TrainingImage.Source.DATASET,
    added_by=None,
    total: int = 0,
    progress: Callable[[ImportReport, int], None] | None = None,
    every: int = 25,
) -> ImportReport:
    """Add every item, skipping duplicates and recording bad files; never stops on one bad file."""
    report = ImportReport()
    for item in items:
        try:
            _, created = add_image(item.read(), item.label, source, added_by=added_by, split=item.split)
        except (PoolError, UploadError, OSError, zipfile.BadZipFile) as exc:
            report.errors.append(f"{item.name}: {exc}")
            logger.info("import: skipped %s: %s", item.name, exc)
        else:
            if created:
                report.added += 1
            else:
                report.duplicates += 1
        if progress is not None and report.total % every == 0:
            progress(report, total)
    if progress is not None:
        progress(report, total)
    return report


def count_images(root: Path) -> int:
    return sum(1 for _ in iter_folder(root))


# --- what training reads ----------------------------------------------------------------


def new_images_since(moment) -> int:
    """Labelled images that arrived after `moment` (None: the whole pool)."""
    rows = TrainingImage.objects.all()
    if moment is not None:
        rows = rows.filter(created_at__gt=moment)
    return rows.count()


def stats() -> dict[str, dict[str, int]]:
    """Counts by split and label, for the pool page."""
    table = {split: {label: 0 for label in LABELS} for split in TrainingImage.Split.values}
    for row in TrainingImage.objects.values("split", "label").order_by().annotate(n=Count("id")):
        table[row["split"]][row["label"]] = row["n"]
    return table
