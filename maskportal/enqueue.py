"""The one way services queue Celery tasks: by task name, so a service never imports its task
module (task modules import services; the dependency runs one way). Routing by name still applies
(CELERY_TASK_ROUTES), and each task module declares its name from the service's constant."""

from __future__ import annotations

from typing import Any

from celery.result import AsyncResult

from maskportal.celery import app


def enqueue(task_name: str, *args: Any, countdown: float | None = None) -> AsyncResult:
    """Send `task_name(*args)` to its queue; returns the result handle (its id names the task)."""
    return app.send_task(task_name, args=list(args), countdown=countdown)
