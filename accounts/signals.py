"""Audit receivers for Django's authentication signals."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from .audit import record
from .models import AuditEvent


@receiver(user_logged_in, dispatch_uid="audit_login")
def _logged_in(sender, request, user, **kwargs):
    record(AuditEvent.Kind.LOGIN, request=request, actor=user, target=user)


@receiver(user_logged_out, dispatch_uid="audit_logout")
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        record(AuditEvent.Kind.LOGOUT, request=request, actor=user, target=user)


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def _login_failed(sender, credentials, request=None, **kwargs):
    record(AuditEvent.Kind.LOGIN_FAILED, request=request, username=str(credentials.get("username", ""))[:150])
