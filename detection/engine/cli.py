"""The `analyze` command's work, as a plain function (the Django command only parses arguments).

With `json_output`, stdout carries exactly one JSON object per image per line and nothing else;
progress, warnings and failures also go to the log / stderr.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TextIO

import cv2

from detection.engine.annotate import annotate
from detection.engine.enrolment import EnrolmentRejected, enrol_in_gallery, prepare
from detection.engine.gallery import Gallery
from detection.engine.imageio import ImageDecodeError, decode_image
from detection.engine.pipeline import MODES, Analysis, Pipeline, PipelineConfig
from detection.engine.types import WITH_MASK

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif"})


class CliError(Exception):
    """A problem with the command line itself (not with one image): the run stops."""


def iter_images(paths: Iterable[str]) -> Iterator[str]:
    """Files as given; folders walked recursively, image files only, sorted."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            yield from (str(p) for p in found)
        else:
            yield raw


def build_gallery(pipeline: Pipeline, directory: Path, stderr: TextIO) -> Gallery:
    """Enrol `directory/<person>/<photos>` in memory through the registry's enrolment checks (the
    largest face of each photo, with its pooled synthetic-mask variants); refused photos are reported."""
    if not directory.is_dir():
        raise CliError(f"gallery folder not found: {directory}")
    gallery = pipeline.new_gallery()
    for person_dir in sorted(p for p in directory.iterdir() if p.is_dir()):
        for key, photo in enumerate(iter_images([str(person_dir)])):
            try:
                prepared = prepare(decode_image(photo), pipeline, allow_largest=True)
                enrol_in_gallery(gallery, person_dir.name, prepared, key)
            except (ImageDecodeError, EnrolmentRejected) as exc:
                logger.warning("gallery photo %s skipped: %s", photo, exc)
                _emit(stderr, f"warning: gallery photo {photo} skipped: {exc}")
    if not len(gallery):
        raise CliError(f"no usable face photos in gallery folder {directory} (expected DIR/<person>/<photos>)")
    return gallery


def _emit(stream: TextIO, text: str) -> None:
    """Write one line and flush (works for files and Django's OutputWrapper alike)."""
    stream.write(text + "\n")
    stream.flush()


def _annotated_path(out_dir: Path, image_path: str, used: set[Path]) -> Path:
    stem = Path(image_path).stem or "image"
    candidate, n = out_dir / f"{stem}.jpg", 1
    while candidate in used:
        candidate, n = out_dir / f"{stem}_{n}.jpg", n + 1
    used.add(candidate)
    return candidate


def _table_row(image_path: str, analysis: Analysis) -> str:
    faces = analysis.faces
    masked = sum(f.mask == WITH_MASK for f in faces)
    lines = [
        f"{image_path}  {analysis.width}x{analysis.height}  faces: {len(faces)}  "
        f"with mask: {masked}  without: {len(faces) - masked}  {analysis.timings_ms['total']:.0f} ms"
    ]
    for i, face in enumerate(faces, 1):
        box = ",".join(str(int(round(v))) for v in face.box)
        who = face.identity or ("unknown" if face.distance is not None else "-")
        lines.append(f"  #{i:<3} [{box}]  score {face.score:.2f}  {face.mask:<12} p(mask) {face.mask_score:.2f}  {who}")
    return "\n".join(lines)


def run_analyze(
    paths: Sequence[str],
    *,
    json_output: bool = False,
    gallery_dir: str | None = None,
    recognize: bool = True,
    mode: str = "accurate",
    annotate_dir: str | None = None,
    stdout: TextIO,
    stderr: TextIO,
    pipeline: Pipeline | None = None,
) -> int:
    """Analyse every image; returns the exit status (1 if any image failed)."""
    if mode not in MODES:
        raise CliError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if not paths:
        raise CliError("give at least one image file or folder")
    pipeline = pipeline or Pipeline(PipelineConfig.preset(mode))
    try:
        pipeline.load(recognizer=bool(recognize and gallery_dir))
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot load the models: {exc}") from exc
    if recognize and gallery_dir:
        pipeline.set_gallery(build_gallery(pipeline, Path(gallery_dir), stderr))
    out_dir = Path(annotate_dir) if annotate_dir else None
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
    used: set[Path] = set()
    failed = 0
    for image_path in iter_images(paths):
        try:
            start = time.perf_counter()
            image = decode_image(image_path)
            decode_ms = (time.perf_counter() - start) * 1000
        except ImageDecodeError as exc:
            failed += 1
            logger.warning("cannot analyse %s: %s", image_path, exc)
            if json_output:
                _emit(stdout, json.dumps({"image": image_path, "error": str(exc)}))
            else:
                _emit(stdout, f"{image_path}  ERROR: {exc}")
            continue
        analysis = pipeline.analyze(image, recognize=recognize)
        analysis.add_decode_time(decode_ms)
        if out_dir:
            target = _annotated_path(out_dir, image_path, used)
            cv2.imwrite(str(target), cv2.cvtColor(annotate(image, analysis), cv2.COLOR_RGB2BGR))
        if json_output:
            _emit(stdout, json.dumps(analysis.to_dict(image=image_path)))
        else:
            _emit(stdout, _table_row(image_path, analysis))
    return 1 if failed else 0
