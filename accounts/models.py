"""Users and the security audit trail."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """The platform's user; roles are groups (see accounts.roles), never flags on this model."""

    class Meta:
        ordering = ["username"]
        permissions = [
            ("admin_area", "Can use the administration pages and APIs"),
            ("manage_users", "Can create, disable and change the role of users"),
            ("view_audit", "Can read the security audit log"),
        ]

    @property
    def role(self) -> str:
        from .roles import role_of

        return role_of(self)


class AuditEvent(models.Model):
    class Kind(models.TextChoices):
        LOGIN = "login", "Login"
        LOGIN_FAILED = "login_failed", "Failed login"
        LOGOUT = "logout", "Logout"
        ROLE_CHANGED = "role_changed", "Role changed"
        TOKEN_CREATED = "token_created", "API token created"
        TOKEN_REVOKED = "token_revoked", "API token revoked"
        USER_CREATED = "user_created", "User created"
        USER_DISABLED = "user_disabled", "User disabled"
        USER_ENABLED = "user_enabled", "User enabled"
        PASSWORD_CHANGED = "password_changed", "Password changed"

    kind = models.CharField(max_length=32, choices=Kind.choices, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    target = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True, help_text="As typed, for failed logins.")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.get_kind_display()} {self.username}"
