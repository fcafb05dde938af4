"""Role checks for views and the API, all derived from group permissions."""

from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.core.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

from .roles import is_admin


class PermissionRequired(LoginRequiredMixin, PermissionRequiredMixin):
    """Anonymous users go to the login page; signed-in users without `permission_required` get 403."""

    raise_exception = True

    def handle_no_permission(self):
        if not self.request.user.is_authenticated:
            return LoginRequiredMixin.handle_no_permission(self)
        raise PermissionDenied(self.get_permission_denied_message())


class AdminRequiredMixin(PermissionRequired):
    """Pages of the administration area (Admin role)."""

    permission_required = "accounts.admin_area"


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
