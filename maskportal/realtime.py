"""Typed realtime messages and the one way to publish them to browser groups.

Tasks, services and consumers all build messages here so the browser sees one schema
(paperless-ngx style). With Redis the channel layer is shared by every process. Without it
(the embedded default) the layer is in-memory in the web process, so other processes (Celery
workers, camera watchers) drop messages into a small file outbox that the web process relays.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import os
import threading
import time
import uuid
import weakref
from pathlib import Path
from typing import Any, Literal

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings

logger = logging.getLogger(__name__)

MessageType = Literal[
    "progress", "detection", "review", "alert", "model", "gallery", "error", "pong", "frame", "dropped"
]
#: Channel-layer event type; consumers implement `realtime_message`.
EVENT_TYPE = "realtime.message"
DASHBOARD_GROUP = "dashboard"

_relay_task: asyncio.Task | None = None
_relay_lock = threading.Lock()


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def camera_group(camera_id: int) -> str:
    return f"camera.{camera_id}"


def message(kind: MessageType, /, **payload: Any) -> dict[str, Any]:
    return {"type": kind, **payload}


def progress_message(
    *, job: int | str, kind: str, done: int, total: int, failed: int = 0, status: str, **extra: Any
) -> dict[str, Any]:
    return message("progress", job=job, kind=kind, done=done, total=total, failed=failed, status=status, **extra)


def error_message(code: str, text: str) -> dict[str, Any]:
    return message("error", code=code, message=text)


def layer_is_process_local() -> bool:
    """True for the embedded in-memory layer: only this process's sockets receive its messages."""
    return isinstance(get_channel_layer(), InMemoryChannelLayer)


def publish(group: str, msg: dict[str, Any]) -> None:
    """Send `msg` to every socket in `group`, from sync code in any process; never raises and
    never waits for the send (a request or a batch item does not pay for a notification)."""
    try:
        if not layer_is_process_local():
            _publisher(_background_loop()).submit(group, msg)
        elif _relay_running():
            _publisher(_relay_task.get_loop()).submit(group, msg)
        else:
            _write_outbox(group, msg)
    except Exception:  # a lost notification must never fail the work that produced it
        logger.exception("could not publish %s message to %s", msg.get("type"), group)


class _Publisher:
    """Sends the messages handed to it from any thread, in order, on one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue | None = None
        self.task: asyncio.Task | None = None

    def submit(self, group: str, msg: dict[str, Any]) -> None:
        self.loop.call_soon_threadsafe(self._enqueue, group, msg)

    def _enqueue(self, group: str, msg: dict[str, Any]) -> None:
        if self.queue is None:
            self.queue = asyncio.Queue()
            self.task = self.loop.create_task(self._send_all())
        self.queue.put_nowait((group, msg))

    async def _send_all(self) -> None:
        while True:
            group, msg = await self.queue.get()
            try:
                await get_channel_layer().group_send(group, {"type": EVENT_TYPE, "message": msg})
            except Exception:
                logger.exception("could not publish %s message to %s", msg.get("type"), group)
            finally:
                self.queue.task_done()


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
    publisher = _publishers.get(loop) if loop is not None else None
    if publisher is None or loop.is_closed():
        return

    async def drained() -> None:
        if publisher.queue is not None:
            await publisher.queue.join()

    try:
        asyncio.run_coroutine_threadsafe(drained(), loop).result(timeout)
    except Exception:
        logger.warning("realtime messages still unsent after %ss", timeout)


async def apublish(group: str, msg: dict[str, Any]) -> None:
    """`publish` for async code running in the web process."""
    await get_channel_layer().group_send(group, {"type": EVENT_TYPE, "message": msg})


def _outbox() -> Path:
    path = Path(settings.REALTIME_OUTBOX_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


_writes = 0


def _prune_outbox() -> None:
    """Drop what no web process relayed in time, so an outbox without a reader stays small."""
    oldest = time.time_ns() - OUTBOX_MAX_AGE_S * 1_000_000_000
    for path in _outbox().glob("*.json"):
        if int(path.name.split("-", 1)[0]) < oldest:
            path.unlink(missing_ok=True)


def _write_outbox(group: str, msg: dict[str, Any]) -> None:
    global _writes
    _writes += 1
    if _writes % 100 == 0:
        _prune_outbox()
    name = f"{time.time_ns():020d}-{uuid.uuid4().hex}"
    tmp = _outbox() / f".{name}.tmp"
    tmp.write_text(json.dumps({"group": group, "message": msg}, default=str))
    os.replace(tmp, _outbox() / f"{name}.json")


#: Outbox messages older than this are dropped unsent: live pages only care about the present.
OUTBOX_MAX_AGE_S = 60


async def _relay_outbox(interval: float = 0.1) -> None:
    layer = get_channel_layer()
    outbox = _outbox()
    while True:
        oldest = time.time_ns() - OUTBOX_MAX_AGE_S * 1_000_000_000
        for path in sorted(outbox.glob("*.json")):
            try:
                if int(path.name.split("-", 1)[0]) >= oldest:
                    item = json.loads(path.read_text())
                    await layer.group_send(item["group"], {"type": EVENT_TYPE, "message": item["message"]})
            except Exception:
                logger.exception("dropping unreadable outbox message %s", path.name)
            path.unlink(missing_ok=True)
        await asyncio.sleep(interval)


def _relay_running() -> bool:
    return _relay_task is not None and not _relay_task.done() and _relay_task.get_loop().is_running()


def ensure_outbox_relay() -> None:
    """Start relaying outbox messages in this (web) process when the layer is in-memory."""
    global _relay_task
    if not layer_is_process_local():
        return
    with _relay_lock:
        if not _relay_running():
            _relay_task = asyncio.get_running_loop().create_task(_relay_outbox())
