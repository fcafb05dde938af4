"""Outage recovery: when batch items were queued and started, the import a face photo came from, the
"finished with failures" status, and the recovery sweep every few seconds."""

import django.db.models.deletion
from django.db import migrations, models

RECOVERY_NAME = "Resume batches of lost workers"
#: The sweep is a few cheap queries; running it often is what resumes work within seconds of an outage.
SWEEP_SECONDS = 5


def sweep_every_few_seconds(apps, schema_editor):
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    interval, _ = apps.get_model("django_celery_beat", "IntervalSchedule").objects.get_or_create(
        every=SWEEP_SECONDS, period="seconds"
    )
    task_model.objects.filter(name=RECOVERY_NAME).update(
        interval=interval,
        description="Queues batch items and face imports that no worker will run: never queued (the broker "
        "was down), or started by a worker that died.",
    )


def sweep_every_minute(apps, schema_editor):
    interval, _ = apps.get_model("django_celery_beat", "IntervalSchedule").objects.get_or_create(
        every=60, period="seconds"
    )
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=RECOVERY_NAME).update(interval=interval)


class Migration(migrations.Migration):
    dependencies = [
        ("detection", "0009_camera_watch_permission"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.RunPython(sweep_every_few_seconds, sweep_every_minute),
        migrations.AddField(
            model_name="batchitem",
            name="queued_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="batchitem",
            name="started_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="faceimport",
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="facesample",
            name="face_import",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="samples",
                to="detection.faceimport",
            ),
        ),
        migrations.AddField(
            model_name="facesample",
            name="import_file",
            field=models.CharField(blank=True, max_length=500),
        ),
        migrations.AlterField(
            model_name="batchjob",
            name="status",
            field=models.CharField(
                choices=[
                    ("queued", "Queued"),
                    ("running", "Running"),
                    ("succeeded", "Succeeded"),
                    ("partial", "Finished with failures"),
                    ("failed", "Failed"),
                    ("cancelled", "Cancelled"),
                ],
                db_index=True,
                default="queued",
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="faceimport",
            name="status",
            field=models.CharField(
                choices=[
                    ("queued", "Queued"),
                    ("running", "Running"),
                    ("succeeded", "Succeeded"),
                    ("partial", "Finished with failures"),
                    ("failed", "Failed"),
                    ("cancelled", "Cancelled"),
                ],
                default="queued",
                max_length=16,
            ),
        ),
    ]
