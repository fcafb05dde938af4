"""Live video sockets: thin wrappers that authenticate, bound the work, and hand frames to services.

`LiveFrameConsumer` (/ws/live/) takes binary frames (a JPEG, optionally preceded by a 4-byte
big-endian frame id) and answers one JSON `frame` message per analysed frame. The engine runs in a
bounded thread pool, never on the event loop. Each socket has at most one frame being analysed and
one waiting; a newer frame replaces the waiting one (answered with `dropped`), so latency stays
bounded and a client that sends faster than the server analyses cannot make it queue frames.
`CameraViewerConsumer` (/ws/cameras/<id>/) relays a camera's group: frames and events.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs

from asgiref.sync import SyncToAsync
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connections

from accounts.consumers import RealtimeConsumer
from detection.models import Camera
from detection.services.live import FrameError, LiveSession, data_url, split_frame
from maskportal import realtime

logger = logging.getLogger(__name__)

#: Close code for a socket asking for a camera that does not exist or is not a browser camera.
CLOSE_BAD_CAMERA = 4404

_frame_pool = ThreadPoolExecutor(max_workers=settings.LIVE_WORKERS, thread_name_prefix="live-frame")
_event_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="live-event")


def _in(pool: ThreadPoolExecutor, fn):
    """Run sync `fn` in `pool`; code inside may still call async_to_sync (it reaches this loop).

    The pool threads live for the process, so a database connection one of them opened is closed
    after the call instead of lingering per thread.
    """

    def run(*args):
        try:
            return fn(*args)
        finally:
            connections.close_all()

    return SyncToAsync(run, thread_sensitive=False, executor=pool)


class RateLimiter:
    """Token bucket: `rate` frames per second with a burst of one second's worth."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = max(1.0, rate)
        self.stamp = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(max(1.0, self.rate), self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class LiveFrameConsumer(RealtimeConsumer):
    """A browser (or API client) streaming its camera; `?camera=<id>` ties it to a browser Camera."""

    permission = realtime.CLIENT_MESSAGE_TYPES["live_frame"].permission
    needs_groups = False

    async def connect(self) -> None:
        self.camera = None
        self.pending: tuple[int, bytes] | None = None
        self.worker: asyncio.Task | None = None
        self.recording: set[asyncio.Task] = set()
        self.closed = False
        self.received = self.limited = 0
        self.last_limit_error = 0.0
        self.limiter = RateLimiter(settings.LIVE_MAX_FPS)
        camera_id = (parse_qs(self.scope.get("query_string", b"").decode("latin-1")).get("camera") or [""])[0]
        if camera_id:
            self.camera = await _browser_camera(camera_id)
            if self.camera is None:
                await self.close(code=CLOSE_BAD_CAMERA)
                return
        self.session = LiveSession(user=self.scope["user"], camera=self.camera)
        await super().connect()

    async def disconnect(self, code) -> None:
        """Finish the frame in hand, then log the tracks still open."""
        self.closed = True
        self.pending = None
        await asyncio.gather(*filter(None, [self.worker, *self.recording]), return_exceptions=True)
        if hasattr(self, "session"):
            events = self.session.close()
            if events:
                await _in(_event_pool, self.session.record)(events)
        await super().disconnect(code)

    async def receive_bytes(self, data: bytes) -> None:
        """A frame; the permission is checked for each (the user may have been disabled meanwhile)."""
        if await self.may(self.permission):
            await self.on_frame(data)

    async def on_frame(self, data: bytes) -> None:
        self.received += 1
        if not self.limiter.allow():
            await self._rate_limited()
            return
        try:
            frame_id, image = split_frame(data, self.received)
        except FrameError as exc:
            await self.send_json(realtime.error_message(exc.code, str(exc)))
            return
        if self.worker is not None:
            if self.pending is not None:
                await self.send_json(realtime.message("dropped", frame=self.pending[0]))
            self.pending = (frame_id, image)
            return
        self.worker = asyncio.create_task(self._analyse(frame_id, image))

    async def _rate_limited(self) -> None:
        """Say so at most once a second, so a flood cannot fill our send buffer either."""
        self.limited += 1
        now = time.monotonic()
        if now - self.last_limit_error >= 1.0:
            self.last_limit_error = now
            text = f"More than {settings.LIVE_MAX_FPS:g} frames/s; {self.limited} frame(s) dropped."
            await self.send_json(realtime.error_message("rate_limited", text))
            self.limited = 0

    async def _analyse(self, frame_id: int, image: bytes) -> None:
        try:
            while not self.closed:
                await self._analyse_one(frame_id, image)
                if self.pending is None:
                    break
                (frame_id, image), self.pending = self.pending, None
        finally:
            self.worker = None

    async def _analyse_one(self, frame_id: int, image: bytes) -> None:
        try:
            result = await _in(_frame_pool, self.session.process_bytes)(image, frame_id)
        except FrameError as exc:
            message = realtime.error_message(exc.code, str(exc))
            message["frame"] = frame_id
        except Exception:
            logger.exception("live frame %s failed", frame_id)
            message = realtime.error_message("analysis_failed", "The frame could not be analysed.")
            message["frame"] = frame_id
        else:
            message = result.message
            if self.camera is not None:
                await realtime.apublish(realtime.camera_group(self.camera.pk), {**message, "image": data_url(image)})
            if result.events:
                task = asyncio.create_task(self._record(result.events))
                self.recording.add(task)
                task.add_done_callback(self.recording.discard)
        if not self.closed:
            await self.send(text_data=json.dumps(message))

    async def _record(self, events) -> None:
        logs = await _in(_event_pool, self.session.record)(events)
        for log in logs:
            if not self.closed:
                await self.deliver(realtime.message("detection", log_id=log.pk, summary=log.summary))


class CameraViewerConsumer(RealtimeConsumer):
    """Watch one camera: its analysed frames and its events, from whichever process runs it."""

    permission = realtime.MESSAGE_TYPES["frame"].permission

    async def allowed(self) -> bool:
        camera_id = self.scope["url_route"]["kwargs"]["camera_id"]
        return await database_sync_to_async(Camera.objects.filter(pk=camera_id).exists)()

    async def groups_for(self) -> list[str]:
        return [realtime.camera_group(self.scope["url_route"]["kwargs"]["camera_id"])]


@database_sync_to_async
def _browser_camera(camera_id: str) -> Camera | None:
    if not camera_id.isdigit():
        return None
    return Camera.objects.filter(pk=int(camera_id), kind=Camera.Kind.BROWSER, enabled=True).first()
