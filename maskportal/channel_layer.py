"""The Redis channel layer, with one race of channels_redis closed.

All sockets of a process share one Redis key for their messages, and whichever socket is receiving
pops the next message for all of them. channels_redis pops (BZPOPMIN) and then copies the message
to an in-flight backup that the next receive puts back. When the receiving socket is cancelled
between the two (it closed), the message is in neither place and is lost for the socket it was
meant for. A live page that closes does exactly that: its last track is logged as it closes, and the
alert for that track, meant for the dashboards, went missing.
"""

from __future__ import annotations

import asyncio

from channels_redis.core import RedisChannelLayer


class SafeRedisChannelLayer(RedisChannelLayer):
    async def _brpop_with_clean(self, index, channel, timeout):
        """The pop and its backup run to the end even when the receiver is cancelled; a message
        popped for a cancelled receiver stays in the backup, and the next receive delivers it."""
        return await asyncio.shield(super()._brpop_with_clean(index, channel, timeout))
