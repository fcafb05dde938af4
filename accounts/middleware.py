"""Generated passwords are changed before anything else (first admin, new users, resets)."""

from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

#: Paths a user who must change their password may still open.
ALLOWED_NAMES = ("accounts:password_change", "accounts:logout")


class PasswordChangeRequiredMiddleware:
    """Until a signed-in user with `must_change_password` picks a new password, pages redirect to
    the password change page (which says why) and session API calls answer 403 JSON saying so."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and getattr(user, "must_change_password", False):
            change_url = reverse("accounts:password_change")
            allowed = {reverse(name) for name in ALLOWED_NAMES}
            static_prefixes = ("/" + settings.STATIC_URL.lstrip("/"), "/favicon.ico")
            if request.path not in allowed and not request.path.startswith(static_prefixes):
                if request.path.startswith("/api/"):
                    return JsonResponse(
                        {"detail": f"Change your generated password first: {request.build_absolute_uri(change_url)}"},
                        status=403,
                    )
                return redirect(change_url)
        return self.get_response(request)
