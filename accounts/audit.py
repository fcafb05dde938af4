"""Writing security events: the one entry point, so every row has the same shape."""

from __future__ import annotations

import logging

from .models import AuditEvent

logger = logging.getLogger("maskportal.audit")


def client_ip(request) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record(kind: str, *, request=None, actor=None, target=None, username: str = "", **detail) -> AuditEvent:
    if actor is None and request is not None and getattr(request, "user", None) is not None:
        actor = request.user if request.user.is_authenticated else None
    if not username:
        username = getattr(target, "username", "") or getattr(actor, "username", "")
    event = AuditEvent.objects.create(
        kind=kind, actor=actor, target=target, username=username, ip_address=client_ip(request), detail=detail
    )
    logger.info("audit %s user=%s actor=%s %s", kind, username, getattr(actor, "username", None), detail or "")
    return event
