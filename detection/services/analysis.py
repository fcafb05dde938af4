"""Analyse one image and log it: the single path every upload, batch item, API call and camera
event takes, so rows, stored files, counts and the dashboard event always look the same.

`analyse_and_log` is atomic: the log, its faces and every file it wrote exist together or not at
all. Files are not transactional, so the ones written inside a `files_rolled_back()` block are
deleted when the block raises (callers that add their own rows to the same transaction, like the
batch runner, open the block around both).
"""

from __future__ import annotations

import io
import logging
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from PIL import Image

from detection.engine.crops import crop_face
from detection.engine.imageio import decode_image, encode_image
from detection.engine.pipeline import Analysis
from detection.engine.types import WITH_MASK
from detection.models import Camera, DetectedFace, DetectionLog, MaskLabel, Person, PlatformSettings, PrivacyMode
from detection.services import privacy
from detection.services.engine import active_model, pipeline
from maskportal import realtime

logger = logging.getLogger(__name__)

#: Longest side of the stored copy when PlatformSettings.store_images is "downscaled".
DOWNSCALED_SIDE = 1280
#: Side of the stored face crop (thumbnails, review, training corrections).
CROP_SIDE = 160

_written: ContextVar[list[str] | None] = ContextVar("analysis_written_files", default=None)


@contextmanager
def files_rolled_back() -> Iterator[None]:
    """Delete the files stored inside the block when it raises; nested blocks hand theirs up."""
    parent = _written.get()
    mine: list[str] = []
    token = _written.set(mine)
    try:
        yield
    except BaseException:
        for name in mine:
            try:
                default_storage.delete(name)
            except OSError:
                logger.exception("could not delete %s after a failed analysis", name)
        raise
    finally:
        _written.reset(token)
    if parent is not None:
        parent.extend(mine)


def save_file(field_file, name: str, content: bytes) -> None:
    field_file.save(name, ContentFile(content), save=False)
    written = _written.get()
    if written is not None:
        written.append(field_file.name)


def resolve_store(store: bool | str | None) -> str:
    """None: the platform setting; False: keep nothing; True: the setting, but never "none"."""
    if isinstance(store, str):
        if store not in PlatformSettings.StoreImages.values:
            raise ValueError(f"unknown store mode {store!r}")
        return store
    if store is False:
        return PlatformSettings.StoreImages.NONE
    current = _recent("store_images", lambda: PlatformSettings.current().store_images)
    if store is True and current == PlatformSettings.StoreImages.NONE:
        return PlatformSettings.StoreImages.DOWNSCALED
    return current


_recent_values: dict[str, tuple[float, Any]] = {}
#: Seconds a settings value read from the database is reused (saves queries per analysed image).
RECENT_TTL_S = 1.0


def _recent(key: str, load):
    """`load()`, reused for RECENT_TTL_S: a changed setting applies within a second."""
    now = time.monotonic()
    hit = _recent_values.get(key)
    if hit is None or now - hit[0] > RECENT_TTL_S:
        hit = (now, load())
        _recent_values[key] = hit
    return hit[1]


@receiver(post_save, sender=PlatformSettings)
@receiver(post_save, sender=Person)
@receiver(post_delete, sender=Person)
def forget_recent(**kwargs) -> None:
    """Read settings and people afresh on the next analysis (on a change in this process; tests
    call it after a rollback)."""
    _recent_values.clear()
    _people_seen.clear()


#: Image metadata that may describe a person or a place (EXIF holds GPS positions and camera serials).
METADATA_KEYS = ("exif", "xmp", "XML:com.adobe.xmp", "photoshop", "comment", "Raw profile type exif")
#: Pillow format -> (format to write a re-encoded copy in, file extension).
STORED_FORMATS = {"PNG": ("PNG", "png"), "WEBP": ("WEBP", "webp"), "GIF": ("PNG", "png")}


def _without_metadata(data: bytes, image: np.ndarray) -> tuple[bytes, str]:
    """The uploaded file to store as its original: byte for byte when it carries no metadata, else
    re-encoded from the decoded pixels (EXIF orientation already applied), so no EXIF, XMP or
    comment (a GPS position, a device serial) is ever stored or served."""
    with Image.open(io.BytesIO(data)) as img:
        fmt = img.format or "JPEG"
        text = getattr(img, "text", None) or {}  # PNG tEXt/iTXt chunks
        carries = bool(img.getexif()) or bool(text) or any(key in img.info for key in METADATA_KEYS)
    if not carries:
        return data, fmt.lower().replace("jpeg", "jpg")
    out_format, ext = STORED_FORMATS.get(fmt, ("JPEG", "jpg"))
    buffer = io.BytesIO()
    options = {"quality": 95} if out_format in ("JPEG", "WEBP") else {}
    Image.fromarray(image).save(buffer, format=out_format, **options)
    return buffer.getvalue(), ext


def _stored_image(image: np.ndarray, data: bytes | None, store: str) -> tuple[bytes, str] | None:
    """The bytes to keep and their extension: the file as uploaded (without its metadata), or a JPEG
    within DOWNSCALED_SIDE."""
    if store == PlatformSettings.StoreImages.NONE:
        return None
    h, w = image.shape[:2]
    is_jpeg = data is not None and data[:3] == b"\xff\xd8\xff"
    if store == PlatformSettings.StoreImages.ORIGINAL and data is not None:
        return _without_metadata(data, image)
    scale = DOWNSCALED_SIDE / max(h, w)
    if scale >= 1.0 or store == PlatformSettings.StoreImages.ORIGINAL:
        # a small JPEG is kept as it came (no second lossy encode), less its metadata
        return _without_metadata(data, image) if is_jpeg else (encode_image(image), "jpg")
    small = Image.fromarray(image).resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.LANCZOS)
    return encode_image(np.asarray(small)), "jpg"


def summarise(faces: int, masked: int, unmasked: int, unknown: int) -> str:
    if not faces:
        return "no faces"
    text = f"{faces} face{'s' if faces != 1 else ''}: {masked} with mask, {unmasked} without"
    return f"{text}, {unknown} unknown" if unknown else text


_people_seen: dict[int, tuple[float, Person | None]] = {}


def _people(analysis: Analysis) -> dict[str, Person]:
    """Engine identities are str(person.id); map them to rows (deleted people become unknown).

    Rows are reused for RECENT_TTL_S, as long as the engine itself may still match a person
    deleted in another process, so a stream of photos of the same people costs no query each.
    """
    ids = {int(f.identity) for f in analysis.faces if f.identity and f.identity.isdigit()}
    now = time.monotonic()
    missing = {pk for pk in ids if now - _people_seen.get(pk, (-RECENT_TTL_S, None))[0] > RECENT_TTL_S}
    if missing:
        if len(_people_seen) > 10_000:
            _people_seen.clear()
        found = Person.objects.in_bulk(missing)
        _people_seen.update({pk: (now, found.get(pk)) for pk in missing})
    return {str(pk): person for pk in ids if (person := _people_seen[pk][1]) is not None}


def decode(image_or_bytes: np.ndarray | bytes) -> tuple[np.ndarray, bytes | None, float]:
    """RGB array, the original bytes (None for arrays) and the decode time in ms.

    Raises `ImageDecodeError` with a user-readable reason for bad input.
    """
    if isinstance(image_or_bytes, np.ndarray):
        return image_or_bytes, None, 0.0
    start = time.perf_counter()
    data = bytes(image_or_bytes)
    image = decode_image(data, max_pixels=settings.MAX_IMAGE_PIXELS)
    return image, data, (time.perf_counter() - start) * 1000


def analyse(
    image_or_bytes: np.ndarray | bytes, *, mode: str | None = None, recognize: bool = True
) -> tuple[np.ndarray, bytes | None, Analysis]:
    """Decode and analyse without touching the database (so callers can keep transactions short)."""
    image, data, decode_ms = decode(image_or_bytes)
    engine = pipeline(mode)  # synced here: it may read the database, which is per thread
    if threading.current_thread() is threading.main_thread():  # long-lived: a worker's task thread
        analysis = engine.analyze(image, recognize=recognize)
    else:
        analysis = _engine_pool().submit(engine.analyze, image, recognize=recognize).result()
    analysis.add_decode_time(decode_ms)
    return image, data, analysis


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _engine_pool() -> ThreadPoolExecutor:
    """Threads for the engine, one a core. Its models are loaded once per thread, and the web
    process serves each request in a thread of its own, so analysing there would hold that many
    copies (a Celery worker's tasks all run in its main thread, which analyses itself)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="engine")
        return _pool


def analyse_and_log(
    image_or_bytes: np.ndarray | bytes,
    *,
    user=None,
    source: str,
    camera: Camera | None = None,
    batch=None,
    original_name: str = "",
    store: bool | str | None = None,
    mode: str | None = None,
    recognize: bool = True,
    analysis: Analysis | None = None,
) -> DetectionLog:
    """Analyse an image (bytes of an image file, or an RGB array) and record it.

    Pass `analysis` when the image was already analysed (live frames) to only record it. The
    returned log carries the engine result as `log.analysis` (for `Analysis.to_dict`). Raises
    `ImageDecodeError` for bad input; on any failure nothing is left behind.
    """
    if analysis is None:
        image, data, analysis = analyse(image_or_bytes, mode=mode, recognize=recognize)
    else:
        image, data, _ = decode(image_or_bytes)
    return record(
        image, data, analysis, user=user, source=source, camera=camera, batch=batch,
        original_name=original_name, store=store, mode=mode,
    )  # fmt: skip


def record(image: np.ndarray, data: bytes | None, analysis: Analysis, **fields: Any) -> DetectionLog:
    """Write the log, its faces and their files for an analysed image, and tell the dashboard
    (`fields` as `prepare_log` takes them; see `analyse_and_log`)."""
    with files_rolled_back(), transaction.atomic():
        log = prepare_log(image, data, analysis, **fields)
        write_logs([log])
        transaction.on_commit(lambda: realtime.publish(realtime.DASHBOARD_GROUP, detection_message(log)))
    log_recorded(log)
    return log


def prepare_log(
    image: np.ndarray,
    data: bytes | None,
    analysis: Analysis,
    *,
    user=None,
    source: str,
    camera: Camera | None = None,
    batch=None,
    original_name: str = "",
    store: bool | str | None = None,
    mode: str | None = None,
) -> DetectionLog:
    """The unsaved log of an analysed image, its unsaved faces in `log.detected_faces`, and their
    files stored; `write_logs` inserts the rows. Call both inside `files_rolled_back()` and one
    transaction, so a failure leaves neither files nor rows."""
    store_mode = resolve_store(store)
    start = time.perf_counter()
    people = _people(analysis)
    log = DetectionLog(
        user=user if getattr(user, "is_authenticated", False) else None,
        source=source,
        camera=camera,
        batch=batch,
        original_name=original_name[:255],
        image_width=analysis.width,
        image_height=analysis.height,
        model_version=_recent("model_label", lambda: active_model()[1]),
        mode=mode or settings.ENGINE_UPLOAD_MODE,
    )
    kept = _privacy_plan(image, analysis, people, source, store_mode, mode)
    stored = None
    if kept.image is not None:
        stored = _stored_image(kept.image, None if kept.redacted else data, store_mode)
    if stored is not None:
        save_file(log.image, f"{source}.{stored[1]}", stored[0])
    faces = []
    for index, result in enumerate(analysis.faces):
        face = DetectedFace(
            x1=result.box[0], y1=result.box[1], x2=result.box[2], y2=result.box[3],
            score=float(result.score),
            mask_label=MaskLabel.WITH_MASK if result.mask == WITH_MASK else MaskLabel.WITHOUT_MASK,
            mask_probability=float(result.mask_score),
            person=people.get(result.identity or ""),
            distance=result.distance,
        )  # fmt: skip
        if index in kept.crops:
            save_file(face.crop, "face.jpg", encode_image(crop_face(kept.crop_source, result.box, CROP_SIDE)))
        faces.append(face)
    log.face_count = len(faces)
    log.masked_count = sum(f.mask_label == MaskLabel.WITH_MASK for f in faces)
    log.unmasked_count = log.face_count - log.masked_count
    log.unknown_count = sum(f.person is None for f in faces)
    log.summary = summarise(log.face_count, log.masked_count, log.unmasked_count, log.unknown_count)
    log.timings_ms = {**analysis.to_dict()["timings_ms"], "store": round((time.perf_counter() - start) * 1000, 2)}
    log.analysis = analysis
    log.detected_faces = faces  # also what the dashboard message shows, without a query
    return log


def _privacy_plan(
    image: np.ndarray, analysis: Analysis, people: dict[str, Person], source: str, store_mode: str, mode: str | None
) -> privacy.StoragePlan:
    """What the source's privacy mode keeps of the image (nothing when images are not stored)."""
    if store_mode == PlatformSettings.StoreImages.NONE:
        return privacy.plan(image, [], PrivacyMode.NOTHING)
    privacy_mode = _recent(f"privacy:{source}", lambda: privacy.mode_for(source))
    faces = [
        privacy.StoredFace(
            box=_union(result.box, result.detection.box),
            recognised=people.get(result.identity or "") is not None,
            unmasked=result.mask != WITH_MASK,
        )
        for result in analysis.faces
    ]
    other_faces = None
    if source in privacy.PARTIAL_SOURCES:

        def other_faces():
            return [d.box for d in _detect(image, mode)]

    return privacy.plan(image, faces, privacy_mode, other_faces=other_faces)


def _union(a, b) -> tuple[float, float, float, float]:
    """The reported box and the detector's together: the face, forehead and chin included."""
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def _detect(image: np.ndarray, mode: str | None):
    """Every face the engine finds in an image, on the engine's threads (see `analyse`)."""
    engine = pipeline(mode)
    if threading.current_thread() is threading.main_thread():
        return engine.detect(image)
    return _engine_pool().submit(engine.detect, image).result()


def write_logs(logs: list[DetectionLog]) -> None:
    """Insert prepared logs, then all their faces: two statements for any number of images."""
    DetectionLog.objects.bulk_create(logs)  # sets their ids (PostgreSQL and SQLite return them)
    faces = []
    for log in logs:
        for face in log.detected_faces:
            face.log = log
        faces.extend(log.detected_faces)
    DetectedFace.objects.bulk_create(faces)


def log_recorded(log: DetectionLog) -> None:
    logger.info("logged %s analysis %s: %s", log.source, log.pk, log.summary)


def detection_message(log: DetectionLog) -> dict[str, Any]:
    """The `detection` realtime message the dashboard shows as a live event."""
    faces = getattr(log, "detected_faces", None) or list(log.faces.all())
    return realtime.message(
        "detection",
        log_id=log.pk,
        source=log.source,
        camera=log.camera.name if log.camera_id else None,
        created_at=log.created_at.isoformat(),
        summary=log.summary,
        faces=[
            {
                "id": f.pk,
                "mask": f.mask_label,
                "mask_score": round(f.mask_probability, 4),
                "person": f.person.display_name if f.person_id else None,
                "crop": bool(f.crop),
            }
            for f in faces
        ],
        counts={
            "faces": log.face_count,
            "masked": log.masked_count,
            "unmasked": log.unmasked_count,
            "unknown": log.unknown_count,
        },
    )


def annotated_jpeg(log: DetectionLog) -> bytes | None:
    """The stored photo with the faces drawn as reviewed (served by a view, never stored twice);
    None when no image was kept."""
    from detection.engine.annotate import annotate
    from detection.engine.pipeline import FaceResult
    from detection.engine.types import Detection

    if not log.image:
        return None
    with log.image.open("rb") as handle:
        image = decode_image(handle.read(), max_pixels=settings.MAX_IMAGE_PIXELS)
    scale = image.shape[1] / log.image_width if log.image_width else 1.0
    faces = []
    for face in log.faces.select_related("person", "corrected_person"):
        box = tuple(v * scale for v in face.box)
        person = face.effective_person
        label = face.effective_mask_label
        probability = face.mask_probability
        if face.corrected_mask_label:  # a reviewer's label is certain
            probability = 1.0 if label == MaskLabel.WITH_MASK else 0.0
        faces.append(FaceResult(
            box=box, score=face.score, keypoints=np.zeros((5, 2), np.float32), mask=label, mask_score=probability,
            identity=person.display_name if person else None, distance=face.distance,
            detection=Detection(box=box, score=face.score, landmarks=np.zeros((5, 2), np.float32)),
        ))  # fmt: skip
    drawn = annotate(image, Analysis(width=image.shape[1], height=image.shape[0], faces=faces, timings_ms={}))
    return encode_image(drawn)
