"""The dashboard figures (also served at /api/v1/stats/): compliance, trends, breakdowns, recent events.

Compliance counts faces by their reviewed label when a reviewer corrected it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

from django.db.models import Count
from django.db.models.functions import TruncDate, TruncHour
from django.urls import reverse
from django.utils import timezone

from detection.filters import effective_mask, effective_person
from detection.models import BatchJob, DetectedFace, FaceImport, JobStatus, MaskLabel

TREND_DAYS = 14
RECENT = 8


def _rate(masked: int, total: int) -> float | None:
    return round(masked / total, 4) if total else None


def _counts(faces) -> dict[str, Any]:
    agg = faces.aggregate(total=Count("pk"), masked=Count("pk", filter=effective_mask(MaskLabel.WITH_MASK)))
    return {
        "faces": agg["total"],
        "masked": agg["masked"],
        "unmasked": agg["total"] - agg["masked"],
        "compliance": _rate(agg["masked"], agg["total"]),
    }


def _series(faces, trunc, keys: list[datetime], key_of) -> list[dict[str, Any]]:
    rows = (
        faces.annotate(bucket=trunc)
        .values("bucket")
        .annotate(total=Count("pk"), masked=Count("pk", filter=effective_mask(MaskLabel.WITH_MASK)))
    )
    found = {key_of(r["bucket"]): r for r in rows}
    out = []
    for key in keys:
        row = found.get(key_of(key), {"total": 0, "masked": 0})
        out.append(
            {
                "t": key.isoformat(),
                "faces": row["total"],
                "masked": row["masked"],
                "compliance": _rate(row["masked"], row["total"]),
            }
        )
    return out


def face_summary(face: DetectedFace) -> dict[str, Any]:
    log = face.log
    person = face.effective_person
    return {
        "id": face.pk,
        "log_id": face.log_id,
        "created_at": log.created_at.isoformat(),
        "source": log.source,
        "camera": log.camera.name if log.camera else None,
        "mask": face.effective_mask_label,
        "mask_score": round(face.mask_probability, 4),
        "person": person.display_name if person else None,
        "crop": bool(face.crop),
    }


def job_summary(
    job, *, kind: str, label: str, url: str, owner: str | None, progress: tuple[int, int, int] | None = None
) -> dict[str, Any]:
    """One line of the dashboard's Jobs panel, whatever the job (batch, face import, training);
    `progress` is (done, failed, total) for jobs that do not count items."""
    done, failed, total = progress or (job.done, job.failed, job.total)
    return {
        "id": job.pk,
        "kind": kind,
        "label": label,
        "url": url,
        "owner": owner,
        "status": job.status,
        "done": done,
        "failed": failed,
        "total": total,
        "created_at": job.created_at.isoformat(),
    }


#: Other apps' jobs for the Jobs panel: `source(user)` returns job_summary() dicts (training jobs
#: register theirs in TrainingConfig.ready: training builds on detection, never the reverse).
JobSource = Callable[[Any], list[dict[str, Any]]]
_job_sources: list[JobSource] = []


def register_job_source(source: JobSource) -> None:
    if source not in _job_sources:
        _job_sources.append(source)


def _batch_jobs(user) -> list[dict[str, Any]]:
    batches = BatchJob.objects.select_related("owner").order_by("-created_at")
    if user is not None:
        batches = batches.visible_to(user)
    return [
        job_summary(
            b,
            kind="batch",
            label=f"Batch {b.pk}",
            url=reverse("detection:batch_detail", args=[b.pk]),
            owner=b.owner.username,
        )
        for b in batches[:RECENT]
    ]


def _import_jobs(user) -> list[dict[str, Any]]:
    if user is None or not user.has_perm("detection.manage_registry"):
        return []
    imports = FaceImport.objects.filter(owner=user).select_related("owner").order_by("-created_at")[:RECENT]
    return [
        job_summary(
            i,
            kind="face_import",
            label=f"Import {i.source_name}",
            owner=i.owner.username,
            url=reverse("detection:person_import_detail", args=[i.pk]),
        )
        for i in imports
    ]


def jobs_panel(user) -> dict[str, list[dict[str, Any]]]:
    """The user's running and recent jobs of every kind, newest first (the user's to see)."""
    rows = [*_batch_jobs(user), *_import_jobs(user), *(row for source in _job_sources for row in source(user))]
    rows.sort(key=lambda row: row["created_at"], reverse=True)
    active = (JobStatus.QUEUED, JobStatus.RUNNING)
    return {
        "running_jobs": [r for r in rows if r["status"] in active][:RECENT],
        "recent_jobs": [r for r in rows if r["status"] not in active][:RECENT],
    }


def dashboard(now: datetime | None = None, user=None) -> dict[str, Any]:
    """Every figure of the dashboard, in the current time zone (the Jobs panel: `user`'s)."""
    now = timezone.localtime(now or timezone.now())
    tz = timezone.get_current_timezone()
    today = timezone.make_aware(datetime.combine(now.date(), time.min), tz)
    first_day = today - timedelta(days=TREND_DAYS - 1)
    faces = DetectedFace.objects.all()
    today_faces = faces.filter(log__created_at__gte=today)
    hours = [today + timedelta(hours=h) for h in range(24)]
    days = [first_day + timedelta(days=d) for d in range(TREND_DAYS)]
    by_source = today_faces.values("log__source").annotate(
        total=Count("pk"), masked=Count("pk", filter=effective_mask(MaskLabel.WITH_MASK))
    )
    by_camera = (
        today_faces.filter(log__camera__isnull=False)
        .values("log__camera__name")
        .annotate(total=Count("pk"), masked=Count("pk", filter=effective_mask(MaskLabel.WITH_MASK)))
    )
    recent = faces.select_related("log__camera", "person", "corrected_person").order_by("-log__created_at", "-pk")
    return {
        "generated_at": now.isoformat(),
        "today": _counts(today_faces)
        | {
            "unknown": today_faces.filter(effective_person(None)).count(),
            "images": today_faces.values("log").distinct().count(),
        },
        "by_hour": _series(
            today_faces,
            TruncHour("log__created_at", tzinfo=tz),
            hours,
            lambda d: timezone.localtime(d, tz).replace(minute=0, second=0, microsecond=0),
        ),
        "by_day": _series(
            faces.filter(log__created_at__gte=first_day),
            TruncDate("log__created_at", tzinfo=tz),
            days,
            lambda d: d.date() if isinstance(d, datetime) else d,
        ),
        "by_source": [
            {
                "source": r["log__source"],
                "faces": r["total"],
                "masked": r["masked"],
                "compliance": _rate(r["masked"], r["total"]),
            }
            for r in by_source
        ],
        "by_camera": [
            {
                "camera": r["log__camera__name"],
                "faces": r["total"],
                "masked": r["masked"],
                "compliance": _rate(r["masked"], r["total"]),
            }
            for r in by_camera
        ],
        "recent_violations": [face_summary(f) for f in recent.filter(effective_mask(MaskLabel.WITHOUT_MASK))[:RECENT]],
        "unknown_faces": [face_summary(f) for f in recent.filter(effective_person(None))[:RECENT]],
        **jobs_panel(user),
    }
