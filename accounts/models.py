"""Users and the security audit trail."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """The platform's user; roles are groups (see accounts.roles), never flags on this model."""

    must_change_password = models.BooleanField(
        default=False,
        help_text="Set when the password was generated (first admin, new user, reset): pages wait for a change.",
    )

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


class AuditQuerySet(models.QuerySet):
    """Audit rows are never deleted in bulk, except by the audit's own retention (`purge_before`)."""

    def delete(self):
        raise PermissionError("Audit events cannot be deleted.")

    def update(self, **kwargs):
        raise PermissionError("Audit events cannot be changed.")

    def purge_before(self, moment) -> int:
        """Remove events older than `moment`: only the audit retention task calls this."""
        return models.QuerySet.delete(self.filter(created_at__lt=moment))[0]

    def redact(self) -> int:
        """Blank what these events say about a subject (names, before/after): only erasure calls this."""
        return models.QuerySet.update(self, object_repr="", detail={}, redacted=True)


class AuditEvent(models.Model):
    """One security-relevant action: who did what to which object, from where, and what changed.

    Rows are written once (`accounts.audit.record`) and never changed or deleted from the app;
    the audit's own retention (`PlatformSettings.audit_retention_days`) removes old ones, and
    erasing a person redacts what their events say about them.
    """

    class Kind(models.TextChoices):
        LOGIN = "login", "Login"
        LOGIN_FAILED = "login_failed", "Failed login"
        LOCKED_OUT = "locked_out", "Locked out after failed logins"
        UNLOCKED = "unlocked", "Login lockout lifted"
        LOGOUT = "logout", "Logout"
        ROLE_CHANGED = "role_changed", "Role changed"
        TOKEN_CREATED = "token_created", "API token created"
        TOKEN_REVOKED = "token_revoked", "API token revoked"
        USER_CREATED = "user_created", "User created"
        USER_DISABLED = "user_disabled", "User disabled"
        USER_ENABLED = "user_enabled", "User enabled"
        PASSWORD_CHANGED = "password_changed", "Password changed"
        PERSON_CREATED = "person_created", "Person registered"
        PERSON_CHANGED = "person_changed", "Person edited"
        PERSON_DEACTIVATED = "person_deactivated", "Person deactivated"
        PERSON_ACTIVATED = "person_activated", "Person activated"
        PERSON_ERASED = "person_erased", "Person erased"
        PHOTO_ADDED = "photo_added", "Face photo added"
        PHOTO_REMOVED = "photo_removed", "Face photo removed"
        FACE_PROMOTED = "face_promoted", "Detected face added to the registry"
        IMPORT_RUN = "import_run", "Bulk import run"
        CONSENT_RECORDED = "consent_recorded", "Consent recorded"
        CONSENT_WITHDRAWN = "consent_withdrawn", "Consent withdrawn"
        SUBJECT_EXPORTED = "subject_exported", "Subject access export made"
        SETTINGS_CHANGED = "settings_changed", "Recognition, storage or retention settings changed"
        TRAINING_STARTED = "training_started", "Training started"
        TRAINING_CANCELLED = "training_cancelled", "Training cancelled"
        MODEL_PROMOTED = "model_promoted", "Model promoted"
        MODEL_ROLLED_BACK = "model_rolled_back", "Model rolled back"
        SCHEDULE_CHANGED = "schedule_changed", "Retraining schedule changed"
        DETECTION_CORRECTED = "detection_corrected", "Detection reviewed or corrected"
        CSV_EXPORTED = "csv_exported", "Detection log exported (CSV)"
        CAMERA_CREATED = "camera_created", "Camera added"
        CAMERA_CHANGED = "camera_changed", "Camera changed"
        CAMERA_DELETED = "camera_deleted", "Camera deleted"
        WEBHOOK_CREATED = "webhook_created", "Webhook added"
        WEBHOOK_CHANGED = "webhook_changed", "Webhook changed"
        WEBHOOK_DELETED = "webhook_deleted", "Webhook deleted"
        AUDIT_PURGED = "audit_purged", "Old audit events removed"
        PASSWORD_RESET = "password_reset", "Password reset"
        USER_UPDATED = "user_updated", "User details changed"
        USER_DELETED = "user_deleted", "User deleted"

    kind = models.CharField(max_length=32, choices=Kind.choices, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    target = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True, help_text="As typed, for failed logins.")
    object_type = models.CharField(max_length=32, blank=True, db_index=True, help_text="e.g. person, camera.")
    object_id = models.CharField(max_length=64, blank=True, db_index=True)
    object_repr = models.CharField(max_length=200, blank=True, help_text="The object's name when the event happened.")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    redacted = models.BooleanField(default=False, help_text="The subject was erased: only the fact remains.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.get_kind_display()} {self.username or self.object_repr}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not self._state.adding:
            raise PermissionError("Audit events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit events cannot be deleted.")
