"""Audit receivers for Django's authentication signals; open WebSockets told of access changes."""

from axes.signals import user_locked_out
from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver
from rest_framework.authtoken.models import Token

from maskportal import realtime

from .audit import record
from .authentication import IRRELEVANT_USER_FIELDS
from .models import AuditEvent, User


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


# --- Open WebSockets follow their user's access ------------------------------------------------


def _access_changed(*user_ids: int) -> None:
    """After the change commits, the users' open sockets check their access again (closed when disabled)."""
    ids = [pk for pk in user_ids if pk is not None]
    if ids:
        transaction.on_commit(lambda: _notify_sockets(ids))


def _notify_sockets(user_ids: list[int]) -> None:
    for pk in user_ids:
        realtime.access_changed(pk)


@receiver(post_save, sender=User, dispatch_uid="sockets_user_saved")
def _user_saved(sender, instance, created, update_fields=None, **kwargs):
    if not created and not (update_fields and set(update_fields) <= IRRELEVANT_USER_FIELDS):
        _access_changed(instance.pk)


@receiver(post_delete, sender=User, dispatch_uid="sockets_user_deleted")
def _user_deleted(sender, instance, **kwargs):
    _access_changed(instance.pk)


@receiver(post_delete, sender=Token, dispatch_uid="sockets_token_deleted")
def _token_deleted(sender, instance, **kwargs):
    _access_changed(instance.user_id)


@receiver(m2m_changed, sender=User.groups.through, dispatch_uid="sockets_user_groups")
@receiver(m2m_changed, sender=User.user_permissions.through, dispatch_uid="sockets_user_permissions")
def _memberships_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if action.startswith("post_"):
        # user.groups.add(...) changes one user; group.user_set.add(...) the users in pk_set.
        _access_changed(*((pk_set or ()) if reverse else (instance.pk,)))


@receiver(m2m_changed, sender=Group.permissions.through, dispatch_uid="sockets_group_permissions")
def _group_permissions_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if action.startswith("post_") and not reverse:
        _access_changed(*instance.user_set.values_list("pk", flat=True))


@receiver(user_locked_out, dispatch_uid="audit_locked_out")
def _locked_out(sender, request, username=None, ip_address=None, **kwargs):
    record(AuditEvent.Kind.LOCKED_OUT, request=request, username=str(username or "")[:150])
