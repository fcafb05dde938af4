"""WebSocket authentication by DRF token, for API clients and camera scripts.

Browsers authenticate with their session (AuthMiddlewareStack); clients without a session
pass `?token=<key>` or an `Authorization: Token <key>` header.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.contrib.auth.models import AnonymousUser


@database_sync_to_async
def _user_for_token(key: str):
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return AnonymousUser()
    return token.user


def _token_from_scope(scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            kind, _, key = value.decode("latin-1").partition(" ")
            if kind.lower() == "token" and key:
                return key.strip()
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return (query.get("token") or [None])[0]


class TokenAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        user = scope.get("user")
        if user is None or not user.is_authenticated:
            key = _token_from_scope(scope)
            if key:
                scope = dict(scope, user=await _user_for_token(key))
        return await super().__call__(scope, receive, send)


class BrowserOriginValidator(OriginValidator):
    """Cross-site WebSocket hijacking comes from browsers, and browsers always send Origin; so a
    foreign Origin is refused while clients that send none (camera scripts, API users with a
    token) are let through to authentication."""

    def valid_origin(self, parsed_origin) -> bool:
        return parsed_origin is None or self.validate_origin(parsed_origin)


def origin_checked(application) -> BrowserOriginValidator:
    """Channels' AllowedHostsOriginValidator, but accepting clients that send no Origin."""
    allowed_hosts = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed_hosts:
        allowed_hosts = ["localhost", "127.0.0.1", "[::1]"]
    return BrowserOriginValidator(application, allowed_hosts)
