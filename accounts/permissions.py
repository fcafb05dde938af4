"""Role checks for views and the API, all derived from group permissions."""

from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

from .roles import is_admin


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


class IsAdminRole(BasePermission):
    message = "This needs the Admin role."

    def has_permission(self, request, view) -> bool:
        return is_admin(request.user)


class IsAdminOrReadOnly(BasePermission):
    """Any authenticated user reads; only the Admin role writes."""

    message = "Changing this needs the Admin role."

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or is_admin(request.user)
