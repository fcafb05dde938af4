"""Alerts for live events: the dashboards and the camera's viewers see them, and, optionally,
signed webhooks get them.

A person without a mask is a `warning`; everything else is only logged (the dashboard already
shows every event). Webhooks get a JSON body signed with HMAC-SHA256 of the webhook's secret
(`X-MaskPortal-Signature: sha256=<hex>`) and are delivered by a Celery task that retries with
back-off, so a slow or down receiver never slows the stream.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

import requests
from django.db import transaction
from django.utils import timezone

from detection.engine.types import WITHOUT_MASK
from detection.models import AlertWebhook, DetectionLog
from maskportal import realtime
from maskportal.enqueue import enqueue

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-MaskPortal-Signature"
TIMEOUT_S = 5.0
DELIVER_TASK = "detection.tasks.deliver_webhook"


def level_for(mask: str, known: bool) -> str | None:
    """Alert level of an event, or None for no alert."""
    if mask == WITHOUT_MASK:
        return "warning" if known else "danger"
    return None


def raise_for(log: DetectionLog, *, mask: str, known: bool) -> str | None:
    """Toast and webhooks for a logged event, sent once the surrounding transaction commits."""
    level = level_for(mask, known)
    if level is None:
        return None
    payload = payload_for(log, level)
    transaction.on_commit(lambda: notify(payload))
    return level


def payload_for(log: DetectionLog, level: str) -> dict[str, Any]:
    return {
        "event": "detection.alert",
        "level": level,
        "text": log.summary,
        "log_id": log.pk,
        "camera": log.camera.name if log.camera else None,
        "camera_id": log.camera_id,
        "location": log.camera.location if log.camera else None,
        "source": log.source,
        "created_at": log.created_at.isoformat(),
        "faces": log.face_count,
        "unmasked": log.unmasked_count,
        "unknown": log.unknown_count,
    }


def notify(payload: dict[str, Any]) -> None:
    """To the people who need it: the dashboard and the viewers of the camera (not every page)."""
    msg = realtime.message(
        "alert", level=payload["level"], text=payload["text"], log_id=payload["log_id"], camera=payload["camera"]
    )
    realtime.publish(realtime.DASHBOARD_GROUP, msg)
    if payload.get("camera_id"):
        realtime.publish(realtime.camera_group(payload["camera_id"]), msg)
    for webhook in AlertWebhook.objects.filter(enabled=True).prefetch_related("cameras"):
        if webhook.wants(payload["level"], payload.get("camera_id"), {c.pk for c in webhook.cameras.all()}):
            enqueue(DELIVER_TASK, webhook.pk, payload)


def sample_payload() -> dict[str, Any]:
    """What "Send test" posts: shaped like a real alert, marked as a test."""
    return {
        "event": "webhook.test",
        "level": "test",
        "text": "Test alert from MaskPortal",
        "log_id": None,
        "camera": None,
        "camera_id": None,
        "location": None,
        "source": "test",
        "created_at": timezone.now().isoformat(),
        "faces": 0,
        "unmasked": 0,
        "unknown": 0,
    }


def send_test(webhook: AlertWebhook) -> tuple[bool, str]:
    """Post a signed test alert now; (accepted, a sentence for the Admin), never raises."""
    try:
        status = deliver(webhook, sample_payload())
    except requests.HTTPError as exc:
        code = exc.response.status_code if exc.response is not None else "with an error"
        return False, f"The receiver answered {code}: check its URL and that it accepts the signature."
    except requests.RequestException as exc:
        logger.info("test of webhook %s failed: %s", webhook.pk, exc)
        return False, f"The receiver could not be reached ({exc.__class__.__name__}): check the URL and that it is up."
    return True, f"The receiver accepted the test alert ({status})."


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    """What a receiver does (documented here, used by the tests)."""
    return hmac.compare_digest(sign(secret, body), signature)


def deliver(webhook: AlertWebhook, payload: dict[str, Any]) -> int:
    """POST the signed payload; raises requests.RequestException on failure or a non-2xx answer."""
    body = body_of(payload)
    response = requests.post(
        webhook.url,
        data=body,
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(webhook.secret, body)},
        timeout=TIMEOUT_S,
        allow_redirects=False,
    )
    response.raise_for_status()
    logger.info("webhook %s accepted alert for log %s (%s)", webhook.name, payload.get("log_id"), response.status_code)
    return response.status_code
