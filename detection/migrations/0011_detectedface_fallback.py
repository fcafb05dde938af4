"""How the engine found each face: its close-up fallback, blank for a face detected normally."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("detection", "0010_outage_recovery"),
    ]

    operations = [
        migrations.AddField(
            model_name="detectedface",
            name="fallback",
            field=models.CharField(
                blank=True,
                choices=[
                    ("", "Detected normally"),
                    ("padded", "Found in the framed photo"),
                    ("whole_image", "Whole image classified (no face box)"),
                ],
                default="",
                max_length=16,
            ),
        ),
    ]
