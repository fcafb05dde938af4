"""Base WebSocket consumer and the per-user notification stream.

Every consumer refuses anonymous sockets, joins its groups, and forwards realtime messages
(maskportal.realtime) unchanged, so later features only add message types and groups.
"""

from __future__ import annotations

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from maskportal import realtime

#: Close code for an unauthenticated or unauthorised socket (4000-4999 are application codes).
CLOSE_UNAUTHORISED = 4401


class RealtimeConsumer(AsyncJsonWebsocketConsumer):
    """Authenticated socket subscribed to `groups()`."""

    async def groups_for(self) -> list[str]:
        return []

    async def allowed(self) -> bool:
        user = self.scope.get("user")
        return bool(user and user.is_authenticated and user.is_active)

    async def connect(self) -> None:
        if not await self.allowed():
            await self.close(code=CLOSE_UNAUTHORISED)
            return
        realtime.ensure_outbox_relay()
        self.joined = await self.groups_for()
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code) -> None:
        for group in getattr(self, "joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def realtime_message(self, event) -> None:
        await self.send_json(event["message"])

    async def receive_json(self, content, **kwargs) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json(realtime.message("pong", id=content.get("id")))
        else:
            await self.send_json(realtime.error_message("unsupported", "This socket only answers 'ping'."))


class NotificationConsumer(RealtimeConsumer):
    """A logged-in user's own events (job progress) and the dashboard's live events."""

    async def groups_for(self) -> list[str]:
        return [realtime.user_group(self.scope["user"].pk), realtime.DASHBOARD_GROUP]
