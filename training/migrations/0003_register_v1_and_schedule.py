"""Version 1 (the committed classifier, active) and the scheduled-retraining periodic task."""

import json

from django.conf import settings
from django.db import migrations

SCHEDULE_NAME = "Scheduled retraining"
TASK = "training.tasks.scheduled_retraining"
REAPER_NAME = "Fail training jobs of lost workers"
REAPER_TASK = "training.tasks.reap_stale_jobs"
DEFAULT_MIN_NEW_IMAGES = 200


def register_v1(apps, schema_editor):
    from training.services.registry import register_committed_model

    register_committed_model(model=apps.get_model("training", "ModelVersion"))


def create_schedule(apps, schema_editor):
    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    nightly, _ = crontab_model.objects.get_or_create(
        minute="0", hour="3", day_of_week="*", day_of_month="*", month_of_year="*", timezone=settings.TIME_ZONE
    )
    task_model.objects.get_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "task": TASK,
            "crontab": nightly,
            "kwargs": json.dumps({"min_new_images": DEFAULT_MIN_NEW_IMAGES}),
            "enabled": True,
            "description": "Starts a training job when enough new labelled images arrived since the active version.",
        },
    )

    every_minute, _ = apps.get_model("django_celery_beat", "IntervalSchedule").objects.get_or_create(
        every=60, period="seconds"
    )
    task_model.objects.get_or_create(
        name=REAPER_NAME,
        defaults={
            "task": REAPER_TASK,
            "interval": every_minute,
            "enabled": True,
            "description": "Marks running training jobs failed when their worker stopped sending heartbeats.",
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=[SCHEDULE_NAME, REAPER_NAME]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("training", "0002_job_options_settings"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.RunPython(register_v1, migrations.RunPython.noop),
        migrations.RunPython(create_schedule, remove_schedule),
    ]
