"""The one way to publish realtime messages to browser groups, from sync code in any process or from
async code in the web process."""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import weakref
from typing import Any

from channels.layers import get_channel_layer

from maskportal.outages import broker_errors
from maskportal.realtime import outbox
from maskportal.realtime.messages import ACCESS_CHANGED_EVENT, EVENT_TYPE, sockets_group

logger = logging.getLogger(__name__)


def publish(group: str, msg: dict[str, Any], *, event_type: str = EVENT_TYPE) -> None:
    """Send `msg` to every socket in `group`, from sync code in any process; never raises and
    never waits for the send (a request or a batch item does not pay for a notification)."""
    try:
        relay = outbox.relay_loop()
        if not outbox.layer_is_process_local():
            _publisher(_background_loop()).submit(group, msg, event_type)
        elif relay is not None:
            _publisher(relay).submit(group, msg, event_type)
        else:
            outbox.write(group, msg, event_type)
    except Exception:  # a lost notification must never fail the work that produced it
        logger.exception("could not publish %s message to %s", msg.get("type"), group)


def access_changed(user_id: int) -> None:
    """Tell the user's open sockets to check the user's access again now (closed when disabled)."""
    publish(sockets_group(user_id), {"user": user_id}, event_type=ACCESS_CHANGED_EVENT)


class _Publisher:
    """Sends the messages handed to it from any thread, in order, on one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue | None = None
        self.task: asyncio.Task | None = None

    def submit(self, group: str, msg: dict[str, Any], event_type: str) -> None:
        self.loop.call_soon_threadsafe(self._enqueue, group, msg, event_type)

    def _enqueue(self, group: str, msg: dict[str, Any], event_type: str) -> None:
        if self.queue is None:
            self.queue = asyncio.Queue()
            self.task = self.loop.create_task(self._send_all(self.queue))
        self.queue.put_nowait((group, msg, event_type))

    async def _send_all(self, queue: asyncio.Queue) -> None:
        while True:
            group, msg, event_type = await queue.get()
            try:
                await get_channel_layer().group_send(group, {"type": event_type, "message": msg})
            except broker_errors() as exc:
                logger.warning("realtime layer unavailable: %s message to %s dropped (%s)", msg.get("type"), group, exc)
            except Exception:
                logger.exception("could not publish %s message to %s", msg.get("type"), group)
            finally:
                queue.task_done()


_publishers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Publisher] = weakref.WeakKeyDictionary()
_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def _publisher(loop: asyncio.AbstractEventLoop) -> _Publisher:
    with _loop_lock:
        if loop not in _publishers:
            _publishers[loop] = _Publisher(loop)
        return _publishers[loop]


def _background_loop() -> asyncio.AbstractEventLoop:
    """This process's own loop for a shared (Redis) layer: its connection is kept between sends,
    and the web server's loop never waits on a worker thread's message."""
    global _loop
    with _loop_lock:
        if _loop is None or _loop.is_closed():
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="realtime-publisher", daemon=True).start()
            atexit.register(flush)
        return _loop


def flush(timeout: float = 2.0) -> None:
    """Wait (a bounded time) until this process's background sends are done, e.g. before it exits."""
    loop = _loop
    if loop is None or loop.is_closed() or (publisher := _publishers.get(loop)) is None:
        return

    async def drained() -> None:
        if publisher.queue is not None:
            await publisher.queue.join()

    try:
        asyncio.run_coroutine_threadsafe(drained(), loop).result(timeout)
    except Exception:
        logger.warning("realtime messages still unsent after %ss", timeout)


async def apublish(group: str, msg: dict[str, Any]) -> None:
    """`publish` for async code running in the web process; a message the layer cannot take (Redis
    down) is dropped with a warning: live pages only care about the present."""
    try:
        await get_channel_layer().group_send(group, {"type": EVENT_TYPE, "message": msg})
    except broker_errors() as exc:
        logger.warning("realtime layer unavailable: %s message to %s dropped (%s)", msg.get("type"), group, exc)
