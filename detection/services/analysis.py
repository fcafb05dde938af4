"""Log an analysed image: the single path every upload, batch item, API call and camera event takes,
so rows, stored files, counts and the dashboard event always look the same.

`analyse_and_log` is atomic: the log, its faces and every file it wrote exist together or not at
all (the files through `stored_images.files_rolled_back`). The engine runs in `engine_threads`, the
dashboard's message is built in `detection_messages`, and the drawn result in `annotation`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from detection.engine.crops import crop_face
from detection.engine.imageio import encode_image
from detection.engine.pipeline import Analysis
from detection.engine.types import WITH_MASK
from detection.models import Camera, DetectedFace, DetectionLog, MaskLabel, Person, PlatformSettings, PrivacyMode
from detection.services import privacy
from detection.services.detection_messages import publish_detection
from detection.services.engine import active_model
from detection.services.engine_threads import analyse, decode, detect
from detection.services.stored_images import CROP_SIDE, files_rolled_back, save_file, stored_image

logger = logging.getLogger(__name__)


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
        image,
        data,
        analysis,
        user=user,
        source=source,
        camera=camera,
        batch=batch,
        original_name=original_name,
        store=store,
        mode=mode,
    )


def record(image: np.ndarray, data: bytes | None, analysis: Analysis, **fields: Any) -> DetectionLog:
    """Write the log, its faces and their files for an analysed image, and tell the dashboard
    (`fields` as `prepare_log` takes them; see `analyse_and_log`)."""
    with files_rolled_back(), transaction.atomic():
        log = prepare_log(image, data, analysis, **fields)
        write_logs([log])
        transaction.on_commit(lambda: publish_detection(log))
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
        stored = stored_image(kept.image, None if kept.redacted else data, store_mode)
    if stored is not None:
        save_file(log.image, f"{source}.{stored[1]}", stored[0])
    faces = []
    for index, result in enumerate(analysis.faces):
        face = DetectedFace(
            x1=result.box[0],
            y1=result.box[1],
            x2=result.box[2],
            y2=result.box[3],
            score=float(result.score),
            mask_label=MaskLabel.WITH_MASK if result.mask == WITH_MASK else MaskLabel.WITHOUT_MASK,
            mask_probability=float(result.mask_score),
            person=people.get(result.identity or ""),
            distance=result.distance,
            fallback=result.fallback or DetectedFace.Fallback.DETECTED,
        )
        if index in kept.crops and kept.crop_source is not None:
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
            return [d.box for d in detect(image, mode)]

    return privacy.plan(image, faces, privacy_mode, other_faces=other_faces)


def _union(a, b) -> tuple[float, float, float, float]:
    """The reported box and the detector's together: the face, forehead and chin included."""
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


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
