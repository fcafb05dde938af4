"""The per-user notification stream: a user's own job progress and the dashboard's live events."""

from __future__ import annotations

from maskportal import realtime
from maskportal.consumers import RealtimeConsumer


class NotificationConsumer(RealtimeConsumer):
    """A logged-in user's own events (job progress) and the dashboard's live events."""

    async def groups_for(self) -> list[str]:
        return [realtime.user_group(self.access.user_id), realtime.DASHBOARD_GROUP]
