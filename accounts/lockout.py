"""The login lockout's authentication backend (django-axes), for sign-ins that come from a client."""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend


class LockoutBackend(AxesStandaloneBackend):
    """Refuses a locked-out user name + address before any password is checked.

    A sign-in without a request (a management command, a test client's `login()`) has no address to
    lock out and no one guessing at a form: it is left to the next backend instead of failing.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
