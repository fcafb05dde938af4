"""The "finished with failures" job status (shared by every background job)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("training", "0004_job_starting_weights"),
    ]

    operations = [
        migrations.AlterField(
            model_name="trainingjob",
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
    ]
