"""User administration and API tokens, each change audited."""

from __future__ import annotations

import secrets

from django.db import transaction
from rest_framework.authtoken.models import Token

from . import roles
from .audit import record
from .models import AuditEvent, User


@transaction.atomic
def create_user(*, username: str, email: str, role: str, password: str | None, request=None) -> tuple[User, str]:
    """Create an active user with a role; returns the user and the initial password (generated if blank)."""
    initial = password or secrets.token_urlsafe(12)
    user = User.objects.create_user(username=username, email=email, password=initial)
    roles.set_role(user, role)
    record(AuditEvent.Kind.USER_CREATED, request=request, target=user, role=role)
    return user, initial


@transaction.atomic
def change_role(user: User, role: str, *, request=None) -> None:
    old = roles.role_of(user)
    if old == role:
        return
    roles.set_role(user, role)
    record(AuditEvent.Kind.ROLE_CHANGED, request=request, target=user, old=old, new=role)


@transaction.atomic
def set_active(user: User, active: bool, *, request=None) -> None:
    if user.is_active == active:
        return
    user.is_active = active
    user.save(update_fields=["is_active"])
    if not active:
        Token.objects.filter(user=user).delete()
    record(AuditEvent.Kind.USER_ENABLED if active else AuditEvent.Kind.USER_DISABLED, request=request, target=user)


@transaction.atomic
def create_token(user: User, *, request=None) -> Token:
    """A fresh API token; any previous one stops working."""
    Token.objects.filter(user=user).delete()
    token = Token.objects.create(user=user)
    record(AuditEvent.Kind.TOKEN_CREATED, request=request, target=user)
    return token


@transaction.atomic
def revoke_token(user: User, *, request=None) -> bool:
    deleted, _ = Token.objects.filter(user=user).delete()
    if deleted:
        record(AuditEvent.Kind.TOKEN_REVOKED, request=request, target=user)
    return bool(deleted)
