"""Image retention: every stored image older than PlatformSettings.image_retention_days is deleted
by a scheduled task, whatever stored it: detection photos and face crops (the log rows and their
figures stay), the uploads of batch items whose batch ended (cancelled, failed or finished), and
the archives of face imports that ended. Registered face photos are the registry, not a record of
what a camera saw: they stay until their person is deleted.

Files go first and a row forgets a file only once it is gone: a delete that fails (read-only or
unreachable storage) leaves the row pointing at the file, so the next run tries again. Files in
the retention folders that no row points to (left by a crash) are deleted once they are old.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.core.files.storage import default_storage
from django.db.models import Q
from django.utils import timezone

from detection.models import BatchItem, BatchJob, DetectedFace, DetectionLog, FaceImport, PlatformSettings

logger = logging.getLogger(__name__)

CHUNK = 500
#: Storage folders whose files are all covered by retention (see the models' upload_to).
RETENTION_FOLDERS = ("detections", "batches", "imports")


@dataclass
class RetentionReport:
    """What a run did: images deleted per kind, deletes that failed (retried next run), orphans."""

    days: int = 0
    detection_images: int = 0
    face_crops: int = 0
    batch_uploads: int = 0
    import_archives: int = 0
    orphan_files: int = 0
    failed: int = 0

    @property
    def deleted(self) -> int:
        return self.detection_images + self.face_crops + self.batch_uploads + self.import_archives + self.orphan_files

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "deleted": self.deleted}


def _delete(name: str, report: RetentionReport) -> bool:
    """Delete one stored file; False (counted as failed) when the storage refused."""
    try:
        default_storage.delete(name)
    except OSError as exc:
        logger.warning("retention: could not delete %s (retried next run): %s", name, exc)
        report.failed += 1
        return False
    return True


def _purge_field(rows, field: str, report: RetentionReport, counter: str) -> None:
    """Delete the files of `field` in `rows` (a queryset), then forget the ones that are gone."""
    tried: set[int] = set()
    while batch := list(rows.exclude(**{field: ""}).exclude(pk__in=tried).values_list("pk", field)[:CHUNK]):
        gone = [pk for pk, name in batch if _delete(name, report)]
        tried.update(pk for pk, _ in batch)
        rows.model.objects.filter(pk__in=gone).update(**{field: ""})
        setattr(report, counter, getattr(report, counter) + len(gone))


def purge_old_images(days: int | None = None, *, now: datetime | None = None) -> RetentionReport:
    """Delete every stored image older than `days` (default: the platform setting; 0 keeps all)."""
    days = PlatformSettings.current().image_retention_days if days is None else days
    report = RetentionReport(days=days)
    if not days:
        return report
    cutoff = (now or timezone.now()) - timedelta(days=days)
    _purge_field(DetectionLog.objects.filter(created_at__lt=cutoff), "image", report, "detection_images")
    _purge_field(DetectedFace.objects.filter(log__created_at__lt=cutoff), "crop", report, "face_crops")
    ended = ~Q(batch__status__in=[BatchJob.Status.QUEUED, BatchJob.Status.RUNNING])
    old_batch = Q(batch__finished_at__lt=cutoff) | Q(batch__finished_at__isnull=True, batch__created_at__lt=cutoff)
    _purge_field(BatchItem.objects.filter(ended & old_batch), "upload", report, "batch_uploads")
    ended_imports = FaceImport.objects.exclude(status__in=[FaceImport.Status.QUEUED, FaceImport.Status.RUNNING])
    _purge_field(ended_imports.filter(created_at__lt=cutoff), "archive", report, "import_archives")
    _purge_orphans(cutoff, report)
    if report.deleted or report.failed:
        logger.info("retention (%s days): %s", days, report.as_dict())
    return report


def _referenced(name: str) -> bool:
    return (
        DetectionLog.objects.filter(image=name).exists()
        or DetectedFace.objects.filter(crop=name).exists()
        or BatchItem.objects.filter(upload=name).exists()
        or FaceImport.objects.filter(archive=name).exists()
    )


def _purge_orphans(cutoff: datetime, report: RetentionReport) -> None:
    """Old files of the retention folders that no row points to (after the purge above, the old
    files left are orphans or uploads of batches still running, which are kept)."""
    oldest = cutoff.timestamp()
    for folder in RETENTION_FOLDERS:
        for name in _walk(folder):
            try:
                modified = default_storage.get_modified_time(name).timestamp()
            except OSError:
                continue
            if modified < oldest and not _referenced(name) and _delete(name, report):
                report.orphan_files += 1


def _walk(folder: str):
    """Every file name below `folder` in the storage (none when it does not exist)."""
    try:
        folders, files = default_storage.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return
    for file in files:
        if not file.startswith("."):  # a file being written (see maskportal.storage)
            yield f"{folder}/{file}"
    for sub in folders:
        yield from _walk(f"{folder}/{sub}")
