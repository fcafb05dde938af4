"""Audit events for cameras and alert webhooks, whichever way they change (pages, API, Django admin).

The model signals are the one place these changes pass through; the actor and IP come from the
request being served (accounts.audit). Webhook secrets are never written to the audit trail.
"""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from accounts.audit import changes, record, snapshot
from accounts.models import AuditEvent
from detection.models import AlertWebhook, Camera

Kind = AuditEvent.Kind

#: model: (fields audited, created, changed, deleted)
AUDITED = {
    Camera: (
        ("name", "location", "kind", "url", "enabled", "max_fps"),
        Kind.CAMERA_CREATED,
        Kind.CAMERA_CHANGED,
        Kind.CAMERA_DELETED,
    ),
    AlertWebhook: (("name", "url", "enabled"), Kind.WEBHOOK_CREATED, Kind.WEBHOOK_CHANGED, Kind.WEBHOOK_DELETED),
}


def _fields(instance) -> tuple[str, ...]:
    return AUDITED[type(instance)][0]


@receiver(pre_save, sender=Camera, dispatch_uid="audit_camera_before")
@receiver(pre_save, sender=AlertWebhook, dispatch_uid="audit_webhook_before")
def _remember(sender, instance, raw=False, **kwargs) -> None:
    if raw or instance.pk is None:
        instance._audit_before = None
        return
    old = sender.objects.filter(pk=instance.pk).first()
    instance._audit_before = snapshot(old, _fields(instance)) if old is not None else None
    if sender is AlertWebhook and old is not None:
        instance._audit_secret_changed = old.secret != instance.secret


@receiver(post_save, sender=Camera, dispatch_uid="audit_camera_saved")
@receiver(post_save, sender=AlertWebhook, dispatch_uid="audit_webhook_saved")
def _saved(sender, instance, created, raw=False, **kwargs) -> None:
    if raw:
        return
    fields, created_kind, changed_kind, _ = AUDITED[sender]
    before = getattr(instance, "_audit_before", None)
    if created or before is None:
        record(created_kind, obj=instance, values=snapshot(instance, fields))
        return
    diff = changes(before, snapshot(instance, fields))
    extra = {"secret_changed": True} if getattr(instance, "_audit_secret_changed", False) else {}
    if diff or extra:
        record(changed_kind, obj=instance, changes=diff, **extra)


@receiver(post_delete, sender=Camera, dispatch_uid="audit_camera_deleted")
@receiver(post_delete, sender=AlertWebhook, dispatch_uid="audit_webhook_deleted")
def _deleted(sender, instance, **kwargs) -> None:
    record(AUDITED[sender][3], obj=instance)
