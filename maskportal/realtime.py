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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings

from maskportal.outages import broker_errors

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MessageType:
    """A kind of realtime message and the permission a socket's user needs for it, checked for every
    message when it is delivered (server to browser) or received (browser to server). None: any
    active user (answers on the user's own socket, such as errors). `by_kind` refines it by the
    message's `kind` field (a job's progress needs the permission to view that kind of job)."""

    name: str
    permission: str | None
    by_kind: Mapping[str, str] = field(default_factory=dict)

    def permission_for(self, msg: Mapping[str, Any]) -> str | None:
        kind = msg.get("kind")
        return self.by_kind.get(kind, self.permission) if isinstance(kind, str) else self.permission


#: Every message the server sends to browsers.
MESSAGE_TYPES: dict[str, MessageType] = {
    t.name: t
    for t in (
        MessageType(
            "progress",
            "accounts.admin_area",
            by_kind={
                "batch": "detection.view_batchjob",
                "training": "training.view_trainingjob",
                "import": "training.view_trainingimage",
                "face_import": "detection.manage_registry",
            },
        ),
        MessageType("detection", "detection.view_detectionlog"),
        MessageType("review", "detection.view_detectionlog"),
        MessageType("alert", "detection.view_detectionlog"),
        MessageType("model", "training.view_modelversion"),
        MessageType("gallery", "detection.view_person"),
        MessageType("frame", "detection.watch_camera"),
        MessageType("status", "detection.watch_camera"),
        MessageType("dropped", None),
        MessageType("error", None),
        MessageType("pong", None),
    )
}
#: Every message browsers may send: JSON `ping`, and binary frames on the live socket.
CLIENT_MESSAGE_TYPES: dict[str, MessageType] = {
    t.name: t
    for t in (
        MessageType("ping", None),
        MessageType("live_frame", "detection.add_detectionlog"),
    )
}

#: Channel-layer event type; consumers implement `realtime_message`.
EVENT_TYPE = "realtime.message"
#: Channel-layer event telling a user's sockets that the user's access changed (disabled, role removed).
ACCESS_CHANGED_EVENT = "realtime.access_changed"
DASHBOARD_GROUP = "dashboard"

_relay_task: asyncio.Task | None = None
_relay_lock = threading.Lock()


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def sockets_group(user_id: int) -> str:
    """Every open socket of one user, whatever it shows: how a disabled user's sockets are closed."""
    return f"sockets.{user_id}"


def camera_group(camera_id: int) -> str:
    return f"camera.{camera_id}"


def message(kind: str, /, **payload: Any) -> dict[str, Any]:
    if kind not in MESSAGE_TYPES:
        raise ValueError(f"undeclared realtime message type {kind!r}: add it to MESSAGE_TYPES with its permission")
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


def publish(group: str, msg: dict[str, Any], *, event_type: str = EVENT_TYPE) -> None:
    """Send `msg` to every socket in `group`, from sync code in any process; never raises and
    never waits for the send (a request or a batch item does not pay for a notification)."""
    try:
        if not layer_is_process_local():
            _publisher(_background_loop()).submit(group, msg, event_type)
        elif _relay_running():
            _publisher(_relay_task.get_loop()).submit(group, msg, event_type)
        else:
            _write_outbox(group, msg, event_type)
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
            self.task = self.loop.create_task(self._send_all())
        self.queue.put_nowait((group, msg, event_type))

    async def _send_all(self) -> None:
        while True:
            group, msg, event_type = await self.queue.get()
            try:
                await get_channel_layer().group_send(group, {"type": event_type, "message": msg})
            except broker_errors() as exc:
                logger.warning("realtime layer unavailable: %s message to %s dropped (%s)", msg.get("type"), group, exc)
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
    """`publish` for async code running in the web process; a message the layer cannot take (Redis
    down) is dropped with a warning: live pages only care about the present."""
    try:
        await get_channel_layer().group_send(group, {"type": EVENT_TYPE, "message": msg})
    except broker_errors() as exc:
        logger.warning("realtime layer unavailable: %s message to %s dropped (%s)", msg.get("type"), group, exc)


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


def _write_outbox(group: str, msg: dict[str, Any], event_type: str = EVENT_TYPE) -> None:
    global _writes
    _writes += 1
    if _writes % 100 == 0:
        _prune_outbox()
    name = f"{time.time_ns():020d}-{uuid.uuid4().hex}"
    tmp = _outbox() / f".{name}.tmp"
    tmp.write_text(json.dumps({"group": group, "event": event_type, "message": msg}, default=str))
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
                    event = {"type": item.get("event", EVENT_TYPE), "message": item["message"]}
                    await layer.group_send(item["group"], event)
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
