"""Base WebSocket consumer and the per-user notification stream.

Every consumer refuses anonymous sockets, joins its groups, and forwards realtime messages
(maskportal.realtime) unchanged, so later features only add message types and groups.

Access is checked for every message, in both directions, against the permission its type
declares (realtime.MESSAGE_TYPES / CLIENT_MESSAGE_TYPES) and the user's access as it is now: a
user who was disabled, or whose token was revoked, is closed out; a user who lost a permission
stops receiving what needs it. Every socket also joins its user's sockets group, through which a
change of the user's access (accounts.signals) makes it check at once rather than at its next message.
"""

from __future__ import annotations

import json
import logging

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from maskportal import realtime
from maskportal.outages import broker_errors

from .authentication import current_generation
from .services import active_user

logger = logging.getLogger(__name__)

#: Close code for an unauthenticated socket, or one whose user was disabled (4000-4999 are application codes).
CLOSE_UNAUTHORISED = 4401
#: Close code for a socket whose user no longer holds the permission the socket needs.
CLOSE_FORBIDDEN = 4403
#: Close code for a path no consumer serves.
CLOSE_NOT_FOUND = 4404
#: Close code "try again later" (RFC 6455): the channel layer (Redis) is unreachable; the browser
#: reconnects within a few seconds.
CLOSE_TRY_AGAIN = 1013


class UserAccess:
    """A socket's view of its user: reloaded from the database whenever the authentication
    generation moved (any change of users, groups, grants or tokens renews it), so a check costs
    one cache read while nothing changed."""

    def __init__(self, scope) -> None:
        user = scope.get("user")
        self.user_id = user.pk if user is not None and user.is_authenticated else None
        self.token_key: str | None = scope.get("auth_token")
        self.user = None
        self.generation: str | None = None

    async def refresh(self, *, force: bool = False) -> bool:
        """True while the user is active (and their token, if they came with one, still valid)."""
        if self.user_id is None:
            return False
        generation = await sync_to_async(current_generation, thread_sensitive=False)()
        if force or generation is None or generation != self.generation:
            # The generation is read first: a change committed after the load carries a new one.
            self.user = await database_sync_to_async(active_user)(self.user_id, self.token_key)
            self.generation = generation
        return self.user is not None

    def has(self, permission: str | None) -> bool:
        return self.user is not None and (permission is None or self.user.has_perm(permission))


class RealtimeConsumer(AsyncJsonWebsocketConsumer):
    """Authenticated socket subscribed to `groups_for()`; the user must hold `permission` (None:
    any active user) for the socket to open and to stay open."""

    permission: str | None = None

    #: False where the socket's own work goes on without its groups (a live stream is analysed in
    #: this process; only the broadcasts to other pages need the channel layer).
    needs_groups = True

    async def groups_for(self) -> list[str]:
        return []

    async def allowed(self) -> bool:
        """Checks beyond `permission` (the object a socket watches exists, ...)."""
        return True

    async def connect(self) -> None:
        self.closing = False
        self.access = UserAccess(self.scope)
        if not (await self.access.refresh(force=True) and self.access.has(self.permission) and await self.allowed()):
            await self.close(code=CLOSE_UNAUTHORISED)
            return
        realtime.ensure_outbox_relay()
        self.joined = []
        try:
            for group in [realtime.sockets_group(self.access.user_id), *await self.groups_for()]:
                await self.channel_layer.group_add(group, self.channel_name)
                self.joined.append(group)
        except broker_errors():
            if self.needs_groups:
                await self.refuse_unavailable()
                return
            await self.accept(subprotocol=self.scope.get("accept_subprotocol"))
            await self.send_json(
                realtime.error_message(
                    "realtime_degraded",
                    "The message service is unavailable: results still arrive here, "
                    "but other pages do not see them until it is back.",
                )
            )
            return
        await self.accept(subprotocol=self.scope.get("accept_subprotocol"))

    async def refuse_unavailable(self) -> None:
        """Tell the browser live updates are paused (the channel layer is down), then close with
        "try again later" so it reconnects shortly instead of looping silently."""
        await self.accept(subprotocol=self.scope.get("accept_subprotocol"))
        text = "Live updates are paused: the message service is unavailable. Reconnecting…"
        await self.send_json(realtime.error_message("realtime_unavailable", text))
        await self.close(code=CLOSE_TRY_AGAIN)

    async def disconnect(self, code) -> None:
        for group in getattr(self, "joined", []):
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except broker_errors():  # the layer forgets the channel on its own (group expiry)
                break

    async def close(self, code=None, reason=None) -> None:
        """Close once: messages still in flight after a refusal must not close the socket again."""
        if not getattr(self, "closing", False):
            self.closing = True
            await super().close(code=code, reason=reason)

    async def may(self, permission: str | None, *, force: bool = False) -> bool:
        """Whether the user may send or receive a message needing `permission`, now; closes the
        socket when the user may no longer hold it at all."""
        if self.closing:
            return False
        if not await self.access.refresh(force=force):
            await self.close(code=CLOSE_UNAUTHORISED)
            return False
        if not self.access.has(self.permission):
            await self.close(code=CLOSE_FORBIDDEN)
            return False
        return self.access.has(permission)

    async def deliver(self, msg: dict) -> None:
        """Send a server message if its declared type's permission holds for the user now."""
        kind = realtime.MESSAGE_TYPES.get(msg.get("type"))
        if kind is None:
            logger.error("dropping undeclared realtime message type %r", msg.get("type"))
            return
        if await self.may(kind.permission_for(msg)):
            await self.send_json(msg)

    async def realtime_message(self, event) -> None:
        await self.deliver(event["message"])

    async def realtime_access_changed(self, event) -> None:
        await self.may(None, force=True)

    async def receive(self, text_data=None, bytes_data=None) -> None:
        """Binary and non-JSON frames are answered with an error; the socket stays open."""
        if bytes_data is not None:
            await self.receive_bytes(bytes_data)
            return
        try:
            content = json.loads(text_data or "")
        except ValueError:
            await self.send_error("bad_json", "Text messages must be JSON.")
            return
        await self.receive_json(content)

    async def receive_bytes(self, data: bytes) -> None:
        if await self.may(None):
            await self.send_error("unsupported", "This socket takes JSON text messages only.")

    async def receive_json(self, content, **kwargs) -> None:
        is_ping = isinstance(content, dict) and content.get("type") == "ping"
        if not await self.may(realtime.CLIENT_MESSAGE_TYPES["ping"].permission if is_ping else None):
            await self.send_error("forbidden", "You may not send this message.")
        elif is_ping:
            await self.send_json(realtime.message("pong", id=content.get("id")))
        else:
            await self.send_error("unsupported", "This socket only answers 'ping'.")

    async def send_error(self, code: str, text: str) -> None:
        if not self.closing:
            await self.send_json(realtime.error_message(code, text))


class NotificationConsumer(RealtimeConsumer):
    """A logged-in user's own events (job progress) and the dashboard's live events."""

    async def groups_for(self) -> list[str]:
        return [realtime.user_group(self.access.user_id), realtime.DASHBOARD_GROUP]


class UnknownPathConsumer(AsyncJsonWebsocketConsumer):
    """Every path no other route matches: refused with a close code instead of a routing error."""

    async def connect(self) -> None:
        await self.close(code=CLOSE_NOT_FOUND)
