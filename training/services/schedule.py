"""Scheduled retraining: one django-celery-beat PeriodicTask (made by a data migration) whose
kwargs hold the new-image threshold; the settings page and Django admin edit the same row."""

from __future__ import annotations

import json

from celery.schedules import crontab
from django.conf import settings
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from accounts.audit import changes, record
from accounts.models import AuditEvent
from training.models import TrainingSettings

SCHEDULE_NAME = "Scheduled retraining"
TASK = "training.tasks.scheduled_retraining"
DEFAULT_MIN_NEW_IMAGES = 200


def periodic_task() -> PeriodicTask:
    """The schedule row, recreated with the migration's defaults if someone deleted it."""
    task = PeriodicTask.objects.filter(name=SCHEDULE_NAME).select_related("crontab").first()
    if task is None:
        nightly, _ = CrontabSchedule.objects.get_or_create(
            minute="0", hour="3", day_of_week="*", day_of_month="*", month_of_year="*", timezone=settings.TIME_ZONE
        )
        kwargs = json.dumps({"min_new_images": DEFAULT_MIN_NEW_IMAGES})
        task = PeriodicTask.objects.create(name=SCHEDULE_NAME, task=TASK, crontab=nightly, kwargs=kwargs)
    return task


def min_new_images(task: PeriodicTask | None = None) -> int:
    task = task or periodic_task()
    try:
        return int(json.loads(task.kwargs or "{}").get("min_new_images", DEFAULT_MIN_NEW_IMAGES))
    except (ValueError, TypeError, AttributeError):
        return DEFAULT_MIN_NEW_IMAGES


def validate_crontab(minute: str, hour: str, day_of_week: str) -> None:
    """Raises ValueError with celery's own message for a field it cannot parse."""
    crontab(minute=minute, hour=hour, day_of_week=day_of_week)


def current_settings() -> dict:
    task = periodic_task()
    row = TrainingSettings.current()
    cron = task.crontab
    return {
        "enabled": task.enabled,
        "minute": cron.minute if cron else "0",
        "hour": cron.hour if cron else "3",
        "day_of_week": cron.day_of_week if cron else "*",
        "min_new_images": min_new_images(task),
        "default_epochs": row.default_epochs,
        "gate_margin": row.gate_margin,
    }


@transaction.atomic
def save_settings(
    *,
    enabled: bool,
    minute: str,
    hour: str,
    day_of_week: str,
    min_new_images: int,
    default_epochs: int,
    gate_margin: float,
) -> PeriodicTask:
    validate_crontab(minute, hour, day_of_week)
    before = current_settings()
    task = periodic_task()
    cron, _ = CrontabSchedule.objects.get_or_create(
        minute=minute,
        hour=hour,
        day_of_week=day_of_week,
        day_of_month="*",
        month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    kwargs = json.loads(task.kwargs or "{}")
    kwargs["min_new_images"] = int(min_new_images)
    task.crontab, task.interval = cron, None
    task.enabled = enabled
    task.kwargs = json.dumps(kwargs)
    task.save()  # also tells beat to reload its schedule
    row = TrainingSettings.current()
    row.default_epochs, row.gate_margin = default_epochs, gate_margin
    row.save()
    diff = changes(before, current_settings())
    if diff:
        record(AuditEvent.Kind.SCHEDULE_CHANGED, obj=task, object_repr=SCHEDULE_NAME, changes=diff)
    return task
