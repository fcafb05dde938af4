"""User administration and API tokens, each change audited."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from django.conf import settings
from django.db import models, transaction
from rest_framework.authtoken.models import Token

from . import roles
from .audit import record
from .models import AuditEvent, User

logger = logging.getLogger(__name__)


class UserChangeRefused(Exception):
    """A user change that would lock people out (deleting yourself or the last Admin); the message says why."""


def generate_password() -> str:
    """A random password for a person to type once and then replace."""
    return secrets.token_urlsafe(12)


def first_admin_file() -> Path:
    """Where `ensure_admin` leaves the first admin's generated credentials until the first password change."""
    return Path(settings.VAR_DIR) / "first_admin.txt"


@transaction.atomic
def create_user(*, username: str, email: str, role: str, password: str | None, request=None) -> tuple[User, str]:
    """Create an active user with a role; returns the user and the initial password. A blank
    password is generated, and then the user must change it at the first login."""
    initial = password or generate_password()
    user = User.objects.create_user(username=username, email=email, password=initial, must_change_password=not password)
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


@transaction.atomic
def reset_password(user: User, *, request=None) -> str:
    """Give `user` a generated password to change at the next login; returns it (to show once).

    Their sessions end (Django ties sessions to the password) and their API token is revoked,
    since a reset usually means the old credentials are lost or exposed.
    """
    password = generate_password()
    user.set_password(password)
    user.must_change_password = True
    user.save(update_fields=["password", "must_change_password"])
    Token.objects.filter(user=user).delete()
    record(AuditEvent.Kind.PASSWORD_RESET, request=request, target=user)
    return password


@transaction.atomic
def password_changed(user: User, *, request=None) -> None:
    """The user chose a new password: no more forced change, and the first admin's generated
    credentials file goes (it names this user and no longer holds a working password)."""
    if user.must_change_password:
        user.must_change_password = False
        user.save(update_fields=["must_change_password"])
    record(AuditEvent.Kind.PASSWORD_CHANGED, request=request, target=user)
    path = first_admin_file()
    try:
        names_user = f"username: {user.username}\n" in path.read_text()
    except FileNotFoundError:
        return
    if names_user:
        path.unlink(missing_ok=True)
        logger.info("removed %s: its admin changed the generated password", path)


@transaction.atomic
def change_email(user: User, email: str, *, request=None) -> None:
    if user.email == email:
        return
    old = user.email
    user.email = email
    user.save(update_fields=["email"])
    record(AuditEvent.Kind.USER_UPDATED, request=request, target=user, field="email", old=old, new=email)


@transaction.atomic
def delete_user(user: User, *, request=None) -> None:
    """Delete an account. Their detections and audit events stay (without a user); their batch jobs
    and face imports are deleted with them. Refuses yourself and the last active Admin."""
    actor = getattr(request, "user", None)
    if actor is not None and actor.pk == user.pk:
        raise UserChangeRefused("You cannot delete your own account.")
    if roles.role_of(user) == roles.ADMIN and not _other_active_admins(user).exists():
        raise UserChangeRefused("This is the only active Admin; give another user the Admin role first.")
    record(AuditEvent.Kind.USER_DELETED, request=request, target=user, role=roles.role_of(user), email=user.email)
    user.delete()


def _other_active_admins(user: User):
    return (
        User.objects.filter(is_active=True)
        .exclude(pk=user.pk)
        .filter(models.Q(is_superuser=True) | models.Q(groups__name=roles.ADMIN))
    )


def active_user(user_id: int, token_key: str | None = None) -> User | None:
    """The user if still active (and, for a client that came with a token, the token still theirs),
    with their permissions loaded so that has_perm needs no query; None otherwise."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or (token_key is not None and not Token.objects.filter(key=token_key, user=user).exists()):
        return None
    user.get_all_permissions()
    return user


def locked_out(user: User) -> bool:
    """Whether failed logins currently lock this user out (from any address)."""
    from axes.models import AccessAttempt

    return AccessAttempt.objects.filter(
        username=user.username, failures_since_start__gte=settings.AXES_FAILURE_LIMIT
    ).exists()


@transaction.atomic
def unlock(user: User, *, request=None) -> int:
    """Lift the user's login lockout (every address); returns how many lockout records were cleared."""
    from axes.utils import reset

    cleared = reset(username=user.username)
    if cleared:
        record(AuditEvent.Kind.UNLOCKED, request=request, target=user, cleared=cleared)
    return cleared
