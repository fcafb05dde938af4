"""Role checks for views and the API, all derived from group permissions."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from rest_framework.permissions import DjangoModelPermissions

VIEW = ["%(app_label)s.view_%(model_name)s"]


class PermissionRequired(LoginRequiredMixin, PermissionRequiredMixin):
    """Anonymous users go to the login page (with `next`); signed-in users without
    `permission_required` get the 403 page, which shows `permission_denied_message` as the reason."""

    permission_denied_message = "This page needs the Admin role."

    def handle_no_permission(self):
        if not self.request.user.is_authenticated:
            return redirect_to_login(self.request.get_full_path(), self.get_login_url(), self.get_redirect_field_name())
        raise PermissionDenied(self.get_permission_denied_message())


class AdminRequiredMixin(PermissionRequired):
    """Pages of the administration area (Admin role)."""

    permission_required = "accounts.admin_area"
    permission_denied_message = "This page is part of the administration area, which needs the Admin role."


class ModelPermissions(DjangoModelPermissions):
    """The one permission class of the whole API: every request, reads included, needs model permissions.

    A request needs the permission of its method on the view's model (view_, add_, change_, delete_),
    unless the view names its own in `required_permissions`, keyed by viewset action (or, for plain
    views, by HTTP method); an action's entry may itself be keyed by method. A view that names no
    model and no permission for a request refuses it, so a new endpoint is closed until it says what
    it needs.
    """

    perms_map = {
        "GET": VIEW,
        "HEAD": VIEW,
        "OPTIONS": VIEW,
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if getattr(view, "_ignore_model_permissions", False):  # the API root: a list of links
            return True
        named = self.named_permissions(view, request.method)
        if named is None:
            queryset = getattr(view, "queryset", None)
            if queryset is None and hasattr(view, "get_queryset"):
                queryset = view.get_queryset()
            if queryset is not None:
                return user.has_perms(self.get_required_permissions(request.method, queryset.model))
            # A method a model-less view does not serve needs all it names (then gets its 405).
            named = tuple(perm for entry in self._table(view).values() for perm in self._flatten(entry))
        return bool(named) and user.has_perms(named)

    @staticmethod
    def _table(view) -> dict:
        return getattr(view, "required_permissions", None) or {}

    @staticmethod
    def _flatten(entry) -> list[str]:
        return [p for perms in entry.values() for p in perms] if isinstance(entry, dict) else list(entry)

    @classmethod
    def named_permissions(cls, view, method: str) -> tuple[str, ...] | None:
        """The permissions the view names for this request, or None when its model decides."""
        entry = cls._table(view).get(getattr(view, "action", None) or method)
        if isinstance(entry, dict):
            entry = entry.get(method, entry.get("GET") if method in ("HEAD", "OPTIONS") else None)
        return tuple(entry) if entry is not None else None
