"""The file outbox of the embedded (in-memory) channel layer: processes other than the web process
(Celery workers, camera watchers) leave messages here, and the web process relays them."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings

from maskportal.realtime.messages import EVENT_TYPE

logger = logging.getLogger(__name__)

_relay_task: asyncio.Task | None = None
_relay_lock = threading.Lock()


def layer_is_process_local() -> bool:
    """True for the embedded in-memory layer: only this process's sockets receive its messages."""
    return isinstance(get_channel_layer(), InMemoryChannelLayer)


def _folder() -> Path:
    path = Path(settings.REALTIME_OUTBOX_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


_writes = 0


def prune() -> None:
    """Drop what no web process relayed in time, so an outbox without a reader stays small."""
    oldest = time.time_ns() - OUTBOX_MAX_AGE_S * 1_000_000_000
    for path in _folder().glob("*.json"):
        if int(path.name.split("-", 1)[0]) < oldest:
            path.unlink(missing_ok=True)


def write(group: str, msg: dict[str, Any], event_type: str = EVENT_TYPE) -> None:
    """Leave a message for the web process (written whole: a temp file renamed into place)."""
    global _writes
    _writes += 1
    if _writes % 100 == 0:
        prune()
    name = f"{time.time_ns():020d}-{uuid.uuid4().hex}"
    tmp = _folder() / f".{name}.tmp"
    tmp.write_text(json.dumps({"group": group, "event": event_type, "message": msg}, default=str))
    os.replace(tmp, _folder() / f"{name}.json")


#: Outbox messages older than this are dropped unsent: live pages only care about the present.
OUTBOX_MAX_AGE_S = 60


async def _relay(interval: float = 0.1) -> None:
    layer = get_channel_layer()
    folder = _folder()
    while True:
        oldest = time.time_ns() - OUTBOX_MAX_AGE_S * 1_000_000_000
        for path in sorted(folder.glob("*.json")):
            try:
                if int(path.name.split("-", 1)[0]) >= oldest:
                    item = json.loads(path.read_text())
                    event = {"type": item.get("event", EVENT_TYPE), "message": item["message"]}
                    await layer.group_send(item["group"], event)
            except Exception:
                logger.exception("dropping unreadable outbox message %s", path.name)
            path.unlink(missing_ok=True)
        await asyncio.sleep(interval)


def relay_loop() -> asyncio.AbstractEventLoop | None:
    """The loop relaying the outbox in this (web) process, while it runs; else None."""
    task = _relay_task
    if task is None or task.done() or not task.get_loop().is_running():
        return None
    return task.get_loop()


def ensure_outbox_relay() -> None:
    """Start relaying outbox messages in this (web) process when the layer is in-memory."""
    global _relay_task
    if not layer_is_process_local():
        return
    with _relay_lock:
        if relay_loop() is None:
            _relay_task = asyncio.get_running_loop().create_task(_relay())
