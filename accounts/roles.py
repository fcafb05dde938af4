"""The two roles, as groups with permissions: the one place that says who may do what.

Admins get every permission of the platform's apps; Staff get the everyday ones listed in
STAFF_PERMISSIONS. Other apps add their Staff permissions here, not ad-hoc checks elsewhere.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

ADMIN = "Admin"
STAFF = "Staff"
ROLES = (ADMIN, STAFF)

#: Apps whose every permission the Admin role holds.
ADMIN_APPS = ("accounts", "detection", "training", "django_celery_beat", "authtoken", "axes")

#: "app_label.codename" permissions of the Staff role: the access matrix of docs/security.md. Staff
#: review detections (names included) and watch cameras; the registry (people, employee codes, notes,
#: consent, enrolment photos) and camera configuration are the Admin role's.
STAFF_PERMISSIONS = (
    "detection.view_detectionlog",
    "detection.add_detectionlog",
    "detection.view_detectedface",
    "detection.change_detectedface",
    "detection.view_batchjob",
    "detection.add_batchjob",
    "detection.change_batchjob",
    "detection.watch_camera",
    "training.view_modelversion",
    "training.view_trainingjob",
)


def _permissions(codes: tuple[str, ...]) -> list[Permission]:
    wanted = {tuple(code.split(".", 1)) for code in codes}
    perms = Permission.objects.select_related("content_type").filter(
        content_type__app_label__in={app for app, _ in wanted}
    )
    return [p for p in perms if (p.content_type.app_label, p.codename) in wanted]


def ensure_roles() -> None:
    """Create or update both groups; safe to run after every migrate."""
    admin, _ = Group.objects.get_or_create(name=ADMIN)
    admin.permissions.set(Permission.objects.filter(content_type__app_label__in=ADMIN_APPS))
    staff, _ = Group.objects.get_or_create(name=STAFF)
    staff.permissions.set(_permissions(STAFF_PERMISSIONS))


def role_of(user) -> str:
    names = {g.name for g in user.groups.all()}
    if user.is_superuser or ADMIN in names:
        return ADMIN
    return STAFF if STAFF in names else ""


def set_role(user, role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}; expected one of {', '.join(ROLES)}")
    ensure_roles()
    user.groups.remove(*Group.objects.filter(name__in=ROLES))
    user.groups.add(Group.objects.get(name=role))
    # Django admin's own gate follows the role, so it is never set by hand.
    if user.is_staff != (role == ADMIN):
        user.is_staff = role == ADMIN
        user.save(update_fields=["is_staff"])


def is_admin(user) -> bool:
    return bool(user and user.is_authenticated and user.has_perm("accounts.admin_area"))
