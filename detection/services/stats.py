"""The dashboard figures (also served at /api/v1/stats/): compliance, trends, breakdowns, recent events.

Compliance counts faces by their reviewed label when a reviewer corrected it.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django.db.models import Count
from django.db.models.functions import TruncDate, TruncHour
from django.utils import timezone

from detection.filters import effective_mask, effective_person
from detection.models import BatchJob, DetectedFace, MaskLabel

TREND_DAYS = 14
RECENT = 8


def _rate(masked: int, total: int) -> float | None:
    return round(masked / total, 4) if total else None


def _counts(faces) -> dict[str, Any]:
    agg = faces.aggregate(total=Count("pk"), masked=Count("pk", filter=effective_mask(MaskLabel.WITH_MASK)))
    return {"faces": agg["total"], "masked": agg["masked"], "unmasked": agg["total"] - agg["masked"],
            "compliance": _rate(agg["masked"], agg["total"])}  # fmt: skip


def _series(faces, trunc, keys: list[datetime], key_of) -> list[dict[str, Any]]:
    rows = faces.annotate(bucket=trunc).values("bucket").annotate(
        total=Count("pk"), masked=Count("pk", filter=effective_mask(MaskLabel.WITH_MASK))
    )
    found = {key_of(r["bucket"]): r for r in rows}
    out = []
    for key in keys:
        row = found.get(key_of(key), {"total": 0, "masked": 0})
        out.append({"t": key.isoformat(), "faces": row["total"], "masked": row["masked"],
                    "compliance": _rate(row["masked"], row["total"])})  # fmt: skip
    return out


def face_summary(face: DetectedFace) -> dict[str, Any]:
    log = face.log
    person = face.person if face.review_state == DetectedFace.Review.PENDING else face.corrected_person
    return {
        "id": face.pk,
        "log_id": face.log_id,
        "created_at": log.created_at.isoformat(),
        "source": log.source,
        "camera": log.camera.name if log.camera_id else None,
        "mask": face.effective_mask_label,
        "mask_score": round(face.mask_probability, 4),
        "person": person.display_name if person else None,
        "crop": bool(face.crop),
    }


def job_summary(job: BatchJob) -> dict[str, Any]:
    return {"id": job.pk, "kind": "batch", "owner": job.owner.username, "status": job.status, "done": job.done,
            "failed": job.failed, "total": job.total, "created_at": job.created_at.isoformat()}  # fmt: skip


def dashboard(now: datetime | None = None) -> dict[str, Any]:
    """Every figure of the dashboard, in the current time zone."""
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
    by_camera = today_faces.filter(log__camera__isnull=False).values("log__camera__name").annotate(
        total=Count("pk"), masked=Count("pk", filter=effective_mask(MaskLabel.WITH_MASK))
    )
    recent = faces.select_related("log__camera", "person", "corrected_person").order_by("-log__created_at", "-pk")
    jobs = BatchJob.objects.select_related("owner")
    return {
        "generated_at": now.isoformat(),
        "today": _counts(today_faces) | {"unknown": today_faces.filter(effective_person(None)).count(),
                                         "images": today_faces.values("log").distinct().count()},
        "by_hour": _series(today_faces, TruncHour("log__created_at", tzinfo=tz), hours,
                           lambda d: timezone.localtime(d, tz).replace(minute=0, second=0, microsecond=0)),
        "by_day": _series(faces.filter(log__created_at__gte=first_day), TruncDate("log__created_at", tzinfo=tz),
                          days, lambda d: d.date() if isinstance(d, datetime) else d),
        "by_source": [{"source": r["log__source"], "faces": r["total"], "masked": r["masked"],
                       "compliance": _rate(r["masked"], r["total"])} for r in by_source],
        "by_camera": [{"camera": r["log__camera__name"], "faces": r["total"], "masked": r["masked"],
                       "compliance": _rate(r["masked"], r["total"])} for r in by_camera],
        "recent_violations": [face_summary(f) for f in recent.filter(effective_mask(MaskLabel.WITHOUT_MASK))[:RECENT]],
        "unknown_faces": [face_summary(f) for f in recent.filter(effective_person(None))[:RECENT]],
        "running_jobs": [job_summary(j) for j in jobs.filter(status__in=(BatchJob.Status.QUEUED,
                                                                         BatchJob.Status.RUNNING))[:RECENT]],
        "recent_jobs": [job_summary(j) for j in jobs.exclude(status__in=(BatchJob.Status.QUEUED,
                                                                         BatchJob.Status.RUNNING))[:RECENT]],
    }  # fmt: skip

