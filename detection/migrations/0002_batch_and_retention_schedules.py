"""Periodic tasks of photo analysis: the daily image-retention clean-up and the batch recovery sweep."""

from django.conf import settings
from django.db import migrations

RETENTION_NAME = "Delete old detection images"
RETENTION_TASK = "detection.tasks.purge_old_images"
RECOVERY_NAME = "Resume batches of lost workers"
RECOVERY_TASK = "detection.tasks.recover_stalled_batches"


def create_schedules(apps, schema_editor):
    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    nightly, _ = crontab_model.objects.get_or_create(
        minute="30", hour="2", day_of_week="*", day_of_month="*", month_of_year="*", timezone=settings.TIME_ZONE
    )
    task_model.objects.get_or_create(
        name=RETENTION_NAME,
        defaults={
            "task": RETENTION_TASK,
            "crontab": nightly,
            "enabled": True,
            "description": "Deletes stored photos and face crops older than the retention setting; keeps the rows.",
        },
    )
    every_minute, _ = interval_model.objects.get_or_create(every=60, period="seconds")
    task_model.objects.get_or_create(
        name=RECOVERY_NAME,
        defaults={
            "task": RECOVERY_TASK,
            "interval": every_minute,
            "enabled": True,
            "description": "Queues again the pending items of batches whose worker stopped making progress.",
        },
    )


def remove_schedules(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        name__in=[RETENTION_NAME, RECOVERY_NAME]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("detection", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, remove_schedules)]
