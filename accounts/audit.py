"""Writing audit events: the one entry point, so every row has the same shape.

Services call `record()` where the action happens; the actor and IP address come from the
request being served (set by `AuditRequestMiddleware`), so services need no request argument.
Work outside a request (Celery tasks, the scheduler) passes `actor` itself or is recorded as
done by the system.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import models
from django.utils import timezone

from .models import AuditEvent

logger = logging.getLogger("maskportal.audit")

_current_request: ContextVar[Any] = ContextVar("audit_request", default=None)


class AuditRequestMiddleware:
    """Makes the request being served known to `record()` (actor and IP address)."""

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request):
        with current_request(request):
            return self.get_response(request)


@contextmanager
def current_request(request) -> Iterator[None]:
    token = _current_request.set(request)
    try:
        yield
    finally:
        _current_request.reset(token)


def client_ip(request) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def _request_user(request):
    # DRF authenticates tokens inside the view and sets the user on the Django request too.
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def plain(value: Any) -> Any:
    """A JSON-safe, human-readable form of a field value for before/after records."""
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, models.fields.files.FieldFile):
        return value.name or ""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    return value


def snapshot(obj: models.Model, fields: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """The fields' values as people read them: labelled by their verbose names, choices by their labels."""
    out = {}
    for name in fields:
        model_field = obj._meta.get_field(name)
        value = getattr(obj, name)
        if model_field.choices and value not in (None, ""):
            value = getattr(obj, f"get_{name}_display")()
        label = str(model_field.verbose_name)
        out[label[:1].upper() + label[1:]] = plain(value)
    return out


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """{field: [before, after]} for the fields whose value changed."""
    return {k: [before.get(k), after.get(k)] for k in after if before.get(k) != after.get(k)}


def record(
    kind: str,
    *,
    request=None,
    actor=None,
    target=None,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: Any = "",
    object_repr: str = "",
    username: str = "",
    **detail,
) -> AuditEvent:
    """Write one audit event. `obj` fills the object columns; `detail` holds what changed
    (`changes={field: [before, after]}`) or the facts of the action, JSON-safe."""
    if kind not in AuditEvent.Kind.values:
        raise ValueError(f"unknown audit event kind {kind!r}")
    request = request if request is not None else _current_request.get()
    if actor is None and request is not None:
        actor = _request_user(request)
    if obj is not None:
        object_type = object_type or obj._meta.model_name
        object_id = object_id or obj.pk
        object_repr = object_repr or str(obj)
    if not username:
        username = getattr(target, "username", "") or getattr(actor, "username", "")
    event = AuditEvent.objects.create(
        kind=kind,
        actor=actor,
        target=target,
        username=username,
        object_type=object_type,
        object_id="" if object_id in (None, "") else str(object_id),
        object_repr=str(object_repr)[:200],
        ip_address=client_ip(request),
        detail=plain(detail),
    )
    logger.info(
        "audit %s user=%s actor=%s object=%s:%s",
        kind,
        username,
        getattr(actor, "username", None),
        object_type,
        event.object_id,
    )
    return event


#: Readable names of detail keys; other keys are shown with underscores as spaces.
DETAIL_LABELS = {
    "changes": "Changes",
    "values": "Values",
    "lawful_basis": "Lawful basis",
    "grace_days": "Erasure after (days)",
    "erase_after": "Erasure due",
    "photos": "Photos",
    "rejected": "Rejected",
    "source": "Source",
    "rows": "Rows",
    "filters": "Filters",
    "files": "Files",
    "old": "Before",
    "new": "After",
}


def _text(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value) or "—"
    if isinstance(value, Mapping):
        return "; ".join(f"{_label(k)}: {_text(v)}" for k, v in value.items()) or "—"
    return str(value)


def _label(key: str) -> str:
    return DETAIL_LABELS.get(key) or key.replace("_", " ").capitalize()


def detail_lines(event: AuditEvent) -> list[str]:
    """The event's detail as sentences for people: "Threshold: 0.4 → 0.35", never a raw dict."""
    if event.redacted:
        return ["Details removed when the person was erased."]
    lines = []
    for key, value in (event.detail or {}).items():
        if key == "values" and isinstance(value, Mapping):
            lines.extend(f"{_label(field)}: {_text(v)}" for field, v in value.items())
        elif key == "changes" and isinstance(value, Mapping):
            lines.extend(
                f"{_label(field)}: {_text(pair[0])} → {_text(pair[1])}"
                if isinstance(pair, (list, tuple)) and len(pair) == 2
                else f"{_label(field)}: {_text(pair)}"
                for field, pair in value.items()
            )
        else:
            lines.append(f"{_label(key)}: {_text(value)}")
    return lines


def purge_old_events(days: int, *, now=None) -> int:
    """The audit's own retention: remove events older than `days` (0 keeps all) and record that it did."""
    if not days:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    removed = AuditEvent.objects.purge_before(cutoff)
    if removed:
        record(AuditEvent.Kind.AUDIT_PURGED, events=removed, older_than_days=days)
    return removed
