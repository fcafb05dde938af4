"""Typed realtime messages and the one way to publish them to browser groups.

Tasks, services and consumers all build messages here so the browser sees one schema
(paperless-ngx style). With Redis the channel layer is shared by every process. Without it
(the embedded default) the layer is in-memory in the web process, so other processes (Celery
workers, camera watchers) drop messages into a small file outbox that the web process relays.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Literal

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings

logger = logging.getLogger(__name__)

MessageType = Literal["progress", "detection", "alert", "model", "gallery", "error", "pong", "frame", "dropped"]
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


def _layer_is_process_local() -> bool:
    return isinstance(get_channel_layer(), InMemoryChannelLayer)


def publish(group: str, msg: dict[str, Any]) -> None:
    """Send `msg` to every socket in `group`, from sync code in any process; never raises."""
    try:
        if _layer_is_process_local() and not _relay_running():
            _write_outbox(group, msg)
        else:
            async_to_sync(get_channel_layer().group_send)(group, {"type": EVENT_TYPE, "message": msg})
    except Exception:  # a lost notification must never fail the work that produced it
        logger.exception("could not publish %s message to %s", msg.get("type"), group)


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
    if not _layer_is_process_local():
        return
    with _relay_lock:
        if not _relay_running():
            _relay_task = asyncio.get_running_loop().create_task(_relay_outbox())
