"""The Celery app, configured from Django settings under the CELERY_ namespace."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "maskportal.settings.development")

app = Celery("maskportal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="maskportal.ping")
def ping(value: str = "pong") -> str:
    """Round-trip check used by health tests and operators (`celery call maskportal.ping`)."""
    return value
