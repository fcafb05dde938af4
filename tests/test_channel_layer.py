"""The Redis channel layer never loses a message meant for one socket when another socket of the
same process stops receiving at the moment that message is popped."""

from __future__ import annotations

import asyncio

import pytest
from channels_redis.core import RedisChannelLayer
from django.conf import settings
from redis.asyncio import Redis

from maskportal.channel_layer import SafeRedisChannelLayer

pytestmark = [pytest.mark.redis, pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL")]


async def a_message_survives_its_receiver_closing(layer_class, monkeypatch) -> bool:
    """Socket `closing` is receiving (so it pops for both) when a message for `dashboard` comes;
    it is cancelled between the pop and the backup write (made slow here to hit that moment)."""
    hosts = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]
    layer, sender = layer_class(hosts=hosts, prefix="test-race"), RedisChannelLayer(hosts=hosts, prefix="test-race")
    dashboard, closing = await layer.new_channel(), await layer.new_channel()
    receiving = asyncio.ensure_future(layer.receive(closing))
    await asyncio.sleep(0.2)  # in BZPOPMIN

    real_zadd = Redis.zadd

    async def slow_zadd(self, name, *args, **kwargs):
        if str(name).endswith("$inflight"):
            await asyncio.sleep(0.3)
        return await real_zadd(self, name, *args, **kwargs)

    monkeypatch.setattr(Redis, "zadd", slow_zadd)
    await sender.send(dashboard, {"type": "alert", "text": "no mask at Entrance A"})
    await asyncio.sleep(0.1)  # popped, backup not written yet
    receiving.cancel()
    try:
        message = await asyncio.wait_for(layer.receive(dashboard), timeout=8)
    except TimeoutError:
        return False
    finally:
        await asyncio.sleep(0.5)  # the shielded backup write ends before the test's loop closes
        await layer.flush()
    return message["text"] == "no mask at Entrance A"


async def test_a_socket_closing_mid_receive_loses_nothing_for_the_others(monkeypatch):
    assert await a_message_survives_its_receiver_closing(SafeRedisChannelLayer, monkeypatch)
