"""Webhook delivery for live alerts, retried with exponential back-off."""

from __future__ import annotations

import requests
from celery import shared_task

from detection.models import AlertWebhook
from detection.services import alerts


@shared_task(
    name=alerts.DELIVER_TASK,
    autoretry_for=(requests.RequestException,),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=6,
)
def deliver_webhook(webhook_id: int, payload: dict) -> int | None:
    webhook = AlertWebhook.objects.filter(pk=webhook_id, enabled=True).first()
    if webhook is None:  # deleted or disabled since the alert
        return None
    return alerts.deliver(webhook, payload)
