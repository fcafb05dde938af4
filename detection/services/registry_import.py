"""Bulk import of face photos laid out person/photo.jpg, from a ZIP upload or a folder on the server.

The folder name is the person (underscores read as spaces; an existing person of that name gets
the photos). Every file gets a line in the report: accepted, rejected with the reason (an unsafe
path such as `../x.jpg` included), or skipped (archiver metadata such as `__MACOSX/`). The
uploaded archive is deleted when the import ends, so no copy of the photos stays behind, except
when photos were rejected only for showing several faces: then it is kept until the Admin retries
them enrolling the largest face (`retry_with_largest`, no new upload) or discards it. One
lawful-basis declaration, made when the import starts, is applied to every person it registers
(and to people it adds photos to who had none).

An import runs once: a worker claims it atomically, so a second delivery of its message does
nothing while it runs or after it ended. A worker that dies mid-import stops its heartbeat; the
recovery sweep then sends it again, and the new run resumes, skipping the files already enrolled
(each sample records its import and file), so no photo is enrolled twice.
"""

from __future__ import annotations

import logging
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import partial
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.audit import record
from accounts.models import AuditEvent
from detection.models import FaceImport, FaceSample, Person
from detection.services import consent as consent_service
from detection.services import registry
from detection.services.consent import Declaration
from detection.services.enrolment import EnrolmentRejected, enrol
from detection.services.gallery import registry_changed
from detection.services.uploads import (
    UploadError,
    archive_size_problem,
    archiver_metadata,
    read_member,
    size_problem,
    zip_files,
)
from maskportal.enqueue import enqueue
from maskportal.outages import queue_length, send, send_after_commit
from maskportal.realtime import progress_message, publish, user_group

logger = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.5
IMPORT_TASK = "detection.tasks.import_faces"
#: A running import whose heartbeat is older than this lost its worker.
STALE_AFTER_S = 60
QUEUE = "default"


class ImportRefused(ValueError):
    """The archive or folder cannot be imported at all; the message says why."""


def import_root() -> Path:
    """Server folders may only be imported from below this directory."""
    return Path(getattr(settings, "REGISTRY_IMPORT_ROOT", settings.VAR_DIR / "import")).resolve()


def start_zip_import(
    owner, upload: UploadedFile, *, allow_largest: bool = False, consent: Declaration | None = None
) -> FaceImport:
    """Check the upload is a ZIP within the limits, store it and queue the import."""
    consent_service.check_declared(consent)
    if reason := archive_size_problem(upload.size):
        raise ImportRefused(f"The archive is refused: {reason}.")
    if not zipfile.is_zipfile(upload):
        raise ImportRefused("The file is not a ZIP archive.")
    upload.seek(0)
    try:
        with zipfile.ZipFile(upload) as archive:
            zip_files(archive)
    except UploadError as exc:
        raise ImportRefused(f"The archive is refused: {exc}.") from exc
    upload.seek(0)
    job = FaceImport(owner=owner, source_name=upload.name or "upload.zip", allow_largest=allow_largest)
    job.archive.save(f"{owner.pk}-{int(time.time())}.zip", upload, save=False)
    try:
        return _queue(job, consent)
    except Exception:
        job.archive.delete(save=False)
        raise


def start_folder_import(
    owner, folder: str, *, allow_largest: bool = False, consent: Declaration | None = None
) -> FaceImport:
    """Queue the import of a folder below `import_root()`."""
    consent_service.check_declared(consent)
    root = import_root()
    path = (root / folder).resolve()
    if not path.is_relative_to(root):
        raise ImportRefused(f"Only folders below {root} can be imported.")
    if not path.is_dir():
        raise ImportRefused(f"{path} is not a folder.")
    job = FaceImport(
        owner=owner, folder=str(path), source_name=str(path.relative_to(root)) or ".", allow_largest=allow_largest
    )
    return _queue(job, consent)


@transaction.atomic
def _queue(job: FaceImport, consent: Declaration | None) -> FaceImport:
    if consent is not None:  # else the job keeps the record it has (a retry: its original's)
        job.consent = consent_service.new_record(consent, user=job.owner)
    job.save()
    record(
        AuditEvent.Kind.IMPORT_RUN,
        obj=job,
        object_repr=job.source_name,
        actor=job.owner,
        lawful_basis=job.consent.get_lawful_basis_display() if job.consent else None,
        allow_largest=job.allow_largest,
    )
    send_after_commit(lambda: enqueue(IMPORT_TASK, job.pk), f"face import {job.pk}")
    return job


def recover_imports(now=None) -> int:
    """Send again the imports no worker will run: queued ones whose message is gone from the queue
    (never sent while the broker was down, or lost), and running ones whose worker died."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=STALE_AFTER_S)
    lost = list(FaceImport.objects.filter(status=FaceImport.Status.RUNNING, heartbeat_at__lt=stale))
    queued = FaceImport.objects.filter(status=FaceImport.Status.QUEUED, created_at__lt=now - timedelta(seconds=5))
    if queued.exists() and queue_length(QUEUE) == 0:
        lost += list(queued)
    for job in lost:
        logger.warning("face import %s (%s) is queued again: no worker is running it", job.pk, job.status)
        send(partial(enqueue, IMPORT_TASK, job.pk), f"face import {job.pk}")
    return len(lost)


Entry = tuple[str, str | None, Callable[[], bytes] | None]


def _read_checked(reader: Callable[[], bytes]) -> bytes:
    try:
        return reader()
    except UploadError as exc:
        code = "unsafe_path" if str(exc).startswith("unsafe path") else "upload_refused"
        raise EnrolmentRejected(code, str(exc)) from exc


def _read_file(path: Path) -> bytes:
    if reason := size_problem(path.stat().st_size):
        raise UploadError(reason)
    return path.read_bytes()


def _entry(name: str, read: Callable[[], bytes]) -> Entry:
    """A file's entry: its person is its folder; archiver metadata gets no reader (reported as skipped)."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return name, parts[-2] if len(parts) >= 2 else None, None if archiver_metadata(name) else read


@contextmanager
def _entries(job: FaceImport) -> Iterator[list[Entry]]:
    """(name, person folder or None, reader) per file, in name order, readable inside the block."""
    if job.archive:
        with job.archive.open("rb") as handle, zipfile.ZipFile(handle) as archive:
            infos = sorted(zip_files(archive, metadata=True), key=lambda i: i.filename)
            yield [_entry(info.filename, partial(read_member, archive, info)) for info in infos]
        return
    root = Path(job.folder)
    paths = sorted(p for p in root.rglob("*") if p.is_file())
    yield [_entry(path.relative_to(root).as_posix(), partial(_read_file, path)) for path in paths]


def _selected(job: FaceImport, entries: list[Entry]) -> list[Entry]:
    """A retry reads only the files its original import rejected for showing several faces."""
    if job.retry_of is None:
        return entries
    wanted = set(retryable_files(job.retry_of))
    return [entry for entry in entries if entry[0] in wanted]


def _person_name(folder: str) -> str:
    return " ".join(folder.replace("_", " ").split())


def _import_one(
    job: FaceImport, file: str, folder: str | None, read: Callable[[], bytes], people: dict[str, Person]
) -> Person:
    data = _read_checked(read)  # an unsafe path or an oversize file is refused before anything else
    if folder is None:
        raise EnrolmentRejected("no_person_folder", "The file is not in a person's folder (expected person/photo.jpg).")
    name = _person_name(folder)
    if not name:
        raise EnrolmentRejected("no_person_folder", "The folder name gives no person name.")
    with transaction.atomic():  # a new person exists only once a photo of them is accepted
        person = people.get(name) or Person.objects.filter(display_name__iexact=name).first()
        if person is None:
            person = registry.create_person(
                display_name=name,
                notes=f"Imported from {job.source_name}",
                consent=job.consent,
                user=job.owner,
                source="import",
            )
        elif person.consent is None and job.consent is not None:
            person.consent = job.consent
            person.save(update_fields=["consent", "updated_at"])
            consent_service.audit_consent(person, job.consent, source="import")
        sample = enrol(person, data, source=FaceSample.Source.IMPORT, allow_largest=job.allow_largest, notify=False)
        FaceSample.objects.filter(Q(pk=sample.pk) | Q(variant_of=sample)).update(face_import=job, import_file=file)
        record(AuditEvent.Kind.PHOTO_ADDED, obj=person, actor=job.owner, photo=sample.pk, source=sample.source)
    people[name] = person
    return person


def _claim(import_id: int) -> FaceImport | None:
    """The import, now this worker's: a queued one, or a running one whose worker died; None when
    it runs elsewhere or has ended."""
    now = timezone.now()
    rows = FaceImport.objects.filter(pk=import_id)
    claimed = rows.filter(status=FaceImport.Status.QUEUED).update(status=FaceImport.Status.RUNNING, heartbeat_at=now)
    if not claimed:
        stale = now - timedelta(seconds=STALE_AFTER_S)
        claimed = (
            rows.filter(status=FaceImport.Status.RUNNING)
            .filter(Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True))
            .update(heartbeat_at=now)
        )
    return rows.first() if claimed else None


def run_import(import_id: int) -> dict[str, int]:
    """Enrol every file of an import, reporting progress to its owner; returns the counts."""
    job = _claim(import_id)
    if job is None:
        logger.info("face import %s is running elsewhere or has ended: nothing to do", import_id)
        current = FaceImport.objects.filter(pk=import_id).first()
        return {"accepted": current.done if current else 0, "rejected": current.failed if current else 0}
    job.report, job.done, job.failed = [], 0, 0
    try:
        with _entries(job) as entries:
            _enrol_all(job, _selected(job, entries))
    except (OSError, zipfile.BadZipFile) as exc:
        return _finish(job, error=f"The archive or folder cannot be read: {exc}")
    except Exception as exc:  # the job row must never stay "running"
        logger.exception("import %s failed", job.pk)
        return _finish(job, error=f"The import stopped: {exc}")
    finally:
        if job.done:
            registry_changed()
    return _finish(job)


def _enrol_all(job: FaceImport, entries: list[Entry]) -> None:
    job.report = [
        _row(name, "", "skipped", "archiver metadata, not a photo", "metadata")
        for name, _, read in entries
        if read is None
    ]
    photos = [(name, folder, read) for name, folder, read in entries if read is not None]
    job.total = len(photos)
    job.save(update_fields=["total", "report", "done", "failed"])
    _publish(job)
    people: dict[str, Person] = {}
    enrolled = dict(  # by an earlier run of this import whose worker died
        FaceSample.objects.filter(face_import=job, variant_of=None).values_list("import_file", "person__display_name")
    )
    last = time.monotonic()
    for name, folder, read in photos:
        if name in enrolled:
            job.done += 1
            job.report.append(_row(name, enrolled[name], "accepted"))
            continue
        try:
            person = _import_one(job, name, folder, read, people)
        except EnrolmentRejected as exc:
            job.failed += 1
            job.report.append(_row(name, _person_name(folder or ""), "rejected", exc.message, exc.code))
        except (OSError, zipfile.BadZipFile, RuntimeError, ValueError) as exc:  # a damaged member: report, go on
            logger.warning("import %s: cannot read %s: %s", job.pk, name, exc)
            job.failed += 1
            job.report.append(_row(name, _person_name(folder or ""), "rejected", str(exc), "unreadable"))
        else:
            job.done += 1
            job.report.append(_row(name, person.display_name, "accepted"))
        if time.monotonic() - last >= PROGRESS_INTERVAL_S:
            last = time.monotonic()
            job.heartbeat_at = timezone.now()
            job.save(update_fields=["done", "failed", "report", "heartbeat_at"])
            _publish(job)


def _row(file: str, person: str, status: str, reason: str = "", code: str = "") -> dict[str, str]:
    """A report line; the person is always named as the registry names them ("Jane Doe", not "Jane_Doe")."""
    return {"file": file, "person": person, "status": status, "reason": reason, "code": code}


def retryable_files(job: FaceImport) -> list[str]:
    """Files this import rejected only because they show several faces (enrolling the largest may work)."""
    if job.allow_largest:
        return []
    return [row["file"] for row in job.report if row.get("code") == "several_faces"]


def can_retry(job: FaceImport) -> bool:
    """Finished, not retried yet, its photos still readable, and some rejected for several faces."""
    return (
        job.status == FaceImport.Status.SUCCEEDED
        and (bool(job.archive) or bool(job.folder))
        and not job.retries.exists()
        and bool(retryable_files(job))
    )


def retry_with_largest(job: FaceImport, owner) -> FaceImport:
    """Enrol the largest face of the photos `job` rejected for showing several faces, from the kept
    archive (or the same folder): no new upload. The retry takes over the archive and deletes it."""
    if not can_retry(job):
        raise ImportRefused("This import has no photos of several faces left to retry.")
    retry = FaceImport(
        owner=owner,
        archive=job.archive.name,
        folder=job.folder,
        source_name=job.source_name,
        allow_largest=True,
        retry_of=job,
        consent=job.consent,
    )
    with transaction.atomic():
        FaceImport.objects.filter(pk=job.pk).update(archive="")
        _queue(retry, None)
    logger.info("import %s: %d photo(s) retried as import %s", job.pk, len(retryable_files(job)), retry.pk)
    return retry


def discard_archive(job: FaceImport) -> None:
    """Delete the archive kept for a retry (the report stays)."""
    if job.archive:
        job.archive.delete(save=False)
        FaceImport.objects.filter(pk=job.pk).update(archive="")


def _finish(job: FaceImport, error: str = "") -> dict[str, int]:
    job.status = FaceImport.Status.FAILED if error else FaceImport.Status.SUCCEEDED
    job.error = error
    job.finished_at = timezone.now()
    if job.archive and (error or not retryable_files(job)):
        job.archive.delete(save=False)
    job.save()
    _publish(job)
    logger.info("import %s %s: %d accepted, %d rejected %s", job.pk, job.status, job.done, job.failed, error)
    return {"accepted": job.done, "rejected": job.failed}


def _publish(job: FaceImport) -> None:
    publish(
        user_group(job.owner_id),
        progress_message(
            job=job.pk, kind="face_import", done=job.done, total=job.total, failed=job.failed, status=job.status
        ),
    )
