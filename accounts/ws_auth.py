"""WebSocket authentication by DRF token, for API clients and camera scripts.

Browsers authenticate with their session (AuthMiddlewareStack). Clients without a session send
their token in an `Authorization: Token <key>` header, or, where they cannot set headers (a
browser's WebSocket API), as the subprotocol pair `maskportal.token, <key>`; the server then
accepts the `maskportal.token` subprotocol. Tokens are never taken from the query string, which
access logs (the web server's, nginx's) write in full.
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

#: Subprotocol that announces a token in the next offered subprotocol.
TOKEN_SUBPROTOCOL = "maskportal.token"


@database_sync_to_async
def _user_for_token(key: str):
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return AnonymousUser()
    return token.user


def _token_from_scope(scope) -> str | None:
    """The token of the Authorization header, else of the subprotocols; None without one."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            kind, _, key = value.decode("latin-1").partition(" ")
            if kind.lower() == "token" and key.strip():
                return key.strip()
    offered = list(scope.get("subprotocols", []))
    if TOKEN_SUBPROTOCOL in offered and offered.index(TOKEN_SUBPROTOCOL) + 1 < len(offered):
        return offered[offered.index(TOKEN_SUBPROTOCOL) + 1]
    return None


class TokenAuthMiddleware(BaseMiddleware):
    """Sets scope["user"] (and scope["auth_token"]) from a token when the session did not; the
    socket checks later that the token still stands. scope["accept_subprotocol"] names
    the subprotocol the consumer accepts: a client that offered the token subprotocol fails the
    handshake unless the server selects one of its offers."""

    async def __call__(self, scope, receive, send):
        accept = TOKEN_SUBPROTOCOL if TOKEN_SUBPROTOCOL in scope.get("subprotocols", []) else None
        scope = dict(scope, accept_subprotocol=accept)
        user = scope.get("user")
        if user is None or not user.is_authenticated:
            key = _token_from_scope(scope)
            if key:
                scope.update(user=await _user_for_token(key), auth_token=key)
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
