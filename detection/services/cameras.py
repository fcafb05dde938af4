"""Watch a fixed camera: read RTSP / HTTP MJPEG / a video file with OpenCV, analyse at most
`camera.max_fps` frames per second with the live service, publish every analysed frame (with a
small JPEG for viewers) to the camera's group, and log one event per track.

A stream that cannot be opened or stops delivering frames is reopened with exponential back-off
(1 s doubling to 60 s, reset after frames flow again). A video file ends the watch at its end
unless `loop` is set; files are paced in real time like a camera unless `paced` is off (tests).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from django.conf import settings
from django.db import close_old_connections

from detection.models import Camera, DetectionLog
from detection.services.live import LiveSession, data_url
from maskportal import realtime

logger = logging.getLogger(__name__)

#: Frames are analysed and shown at most this wide (the live page's size).
MAX_WIDTH = 640
VIEWER_JPEG_QUALITY = 70
#: Without Redis, frames for viewers go through the web process's file outbox; past this many
#: unrelayed files (no web process running) frames are not written, so the outbox cannot grow.
OUTBOX_BACKLOG_LIMIT = 50


@dataclass
class WatchStats:
    frames_read: int = 0
    frames_analysed: int = 0
    events: int = 0
    connects: int = 0
    failures: int = 0


class CameraWatcher:
    def __init__(
        self,
        camera: Camera,
        *,
        loop: bool = False,
        paced: bool = True,
        backoff: tuple[float, float] = (1.0, 60.0),
        stop: threading.Event | None = None,
        wait: Callable[[float], bool] | None = None,
    ) -> None:
        if camera.kind == Camera.Kind.BROWSER:
            raise ValueError(f"{camera.name} is a browser camera: it streams from the live page")
        self.camera = camera
        self.loop = loop
        self.paced = paced
        self.backoff = backoff
        self.stop = stop or threading.Event()
        self.wait = wait or self.stop.wait
        self.session = LiveSession(camera=camera, source=DetectionLog.Source.CAMERA)
        self.stats = WatchStats()
        self.interval = 1.0 / max(camera.max_fps, 0.01)
        self.group = realtime.camera_group(camera.pk)

    @property
    def is_file(self) -> bool:
        return self.camera.kind == Camera.Kind.FILE

    def run(self) -> WatchStats:
        """Watch until stopped (or the end of a file); returns what happened."""
        delay = self.backoff[0]
        try:
            while not self.stop.is_set():
                capture = cv2.VideoCapture(self.camera.url)
                if not capture.isOpened():
                    capture.release()
                    self.stats.failures += 1
                    logger.warning("camera %s: cannot open %s; retry in %.0f s", self.camera.name, self._where(), delay)
                    self._status("offline", f"Cannot open the camera; retrying in {delay:.0f} s.")
                    self.wait(delay)
                    delay = min(delay * 2, self.backoff[1])
                    continue
                self.stats.connects += 1
                logger.info("camera %s: reading %s", self.camera.name, self._where())
                if self.is_file:
                    again = "again " if self.stats.connects > 1 else ""
                    self._status("playing", f"Playing the video file {again}from the start.")
                else:
                    self._status("live", "Receiving the stream.")
                try:
                    before = self.stats.frames_read
                    ended = self._read(capture)
                finally:
                    capture.release()
                if self.stats.frames_read > before:
                    delay = self.backoff[0]
                if self.is_file and ended:
                    self._status("ended", "The video file ended: the last frame stays until it plays again.")
                if self.stop.is_set() or (self.is_file and ended and not self.loop):
                    break
                if not ended:
                    self.stats.failures += 1
                    logger.warning("camera %s: stream dropped; reconnecting in %.0f s", self.camera.name, delay)
                    self._status("offline", f"The stream dropped; reconnecting in {delay:.0f} s.")
                    self.wait(delay)
                    delay = min(delay * 2, self.backoff[1])
        finally:
            self._record(self.session.close())
        return self.stats

    def _status(self, state: str, text: str) -> None:
        """Tell the camera's viewers what the watcher is doing, so a frozen frame is never "Connected"."""
        realtime.publish(self.group, realtime.message("status", state=state, text=text))

    def _where(self) -> str:
        """The URL without credentials, for logs."""
        url = self.camera.url
        if "@" in url and "://" in url:
            scheme, rest = url.split("://", 1)
            return f"{scheme}://***@{rest.split('@', 1)[1]}"
        return url

    def _read(self, capture: cv2.VideoCapture) -> bool:
        """Analyse frames at the rate cap; True at the end of a file, False when a stream drops."""
        last: float | None = None
        started = time.monotonic()
        while not self.stop.is_set():
            if not capture.grab():
                return self.is_file
            self.stats.frames_read += 1
            if self.is_file:
                now = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                if self.paced and now > time.monotonic() - started:
                    self.wait(now - (time.monotonic() - started))
            else:
                now = time.monotonic()
            if last is not None and now - last < self.interval * 0.999:
                continue  # over the rate cap: skip (grab without decoding)
            ok, frame = capture.retrieve()
            if not ok:
                continue
            last = now
            self._analyse(frame, now)
        return False

    def _analyse(self, frame_bgr: np.ndarray, now: float) -> None:
        h, w = frame_bgr.shape[:2]
        if w > MAX_WIDTH:
            frame_bgr = cv2.resize(frame_bgr, (MAX_WIDTH, round(h * MAX_WIDTH / w)), interpolation=cv2.INTER_AREA)
        image = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
        self.stats.frames_analysed += 1
        result = self.session.process_image(image, self.stats.frames_analysed, now=now)
        if self._viewers_reachable():
            ok, jpeg = cv2.imencode(".jpg", frame_bgr, [cv2.IMWRITE_JPEG_QUALITY, VIEWER_JPEG_QUALITY])
            message = dict(result.message, image=data_url(jpeg.tobytes())) if ok else result.message
            realtime.publish(self.group, message)
        self._record(result.events)

    def _record(self, events) -> None:
        if events:
            close_old_connections()
            self.stats.events += len(self.session.record(events))

    def _viewers_reachable(self) -> bool:
        if settings.REDIS_URL:
            return True
        try:
            with os.scandir(settings.REALTIME_OUTBOX_DIR) as entries:
                backlog = sum(1 for _ in zip(entries, range(OUTBOX_BACKLOG_LIMIT + 1), strict=False))
        except FileNotFoundError:
            return True
        return backlog <= OUTBOX_BACKLOG_LIMIT


def find_camera(name_or_id: str) -> Camera:
    """A camera by name or id; raises Camera.DoesNotExist."""
    camera = Camera.objects.filter(name=name_or_id).first()
    if camera is None and name_or_id.isdigit():
        camera = Camera.objects.filter(pk=int(name_or_id)).first()
    if camera is None:
        raise Camera.DoesNotExist(f"no camera named {name_or_id!r}")
    return camera


def watched_cameras() -> dict[int, tuple]:
    """Enabled fixed cameras and the settings a watcher depends on (a change restarts it)."""
    rows = Camera.objects.filter(enabled=True).exclude(kind=Camera.Kind.BROWSER)
    return {c.pk: (c.name, c.location, c.kind, c.url, c.max_fps) for c in rows}
