"""`manage.py watch_cameras`: one `watch_camera` process per enabled fixed camera, kept running.

The supervisor re-reads the camera table every few seconds: new or re-enabled cameras get a
watcher, disabled or deleted ones lose theirs, a changed camera's watcher restarts, and a watcher
that exits is restarted with back-off. Separate processes keep one camera's decoder crash or
stall from touching the others. This is the `cameras` process of the Procfile.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from detection.services.cameras import watched_cameras


@dataclass
class Watcher:
    config: tuple
    process: subprocess.Popen | None = None
    restarts: int = 0
    not_before: float = 0.0
    started: float = field(default_factory=time.monotonic)


class Command(BaseCommand):
    help = "Run and supervise one camera watcher process per enabled fixed camera."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=5.0, help="seconds between camera table checks")

    def handle(self, *args, **options):
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        watchers: dict[int, Watcher] = {}
        try:
            while not stop.is_set():
                close_old_connections()
                self.reconcile(watchers, watched_cameras())
                stop.wait(options["interval"])
        finally:
            for camera_id in list(watchers):
                self.stop_watcher(watchers.pop(camera_id), camera_id)

    def reconcile(self, watchers: dict[int, Watcher], wanted: dict[int, tuple]) -> None:
        for camera_id in [c for c in watchers if watchers[c].config != wanted.get(c)]:
            self.stop_watcher(watchers.pop(camera_id), camera_id)
        now = time.monotonic()
        for camera_id, config in wanted.items():
            watcher = watchers.setdefault(camera_id, Watcher(config))
            running = watcher.process is not None and watcher.process.poll() is None
            if running or now < watcher.not_before:
                continue
            if watcher.process is not None:  # it exited: restart later, longer each time it dies young
                watcher.restarts = 0 if now - watcher.started > 300 else watcher.restarts + 1
                watcher.not_before = now + min(2**watcher.restarts, 60)
                self.stderr.write(f"camera {config[0]}: watcher exited ({watcher.process.returncode}); restarting")
                watcher.process = None
                continue
            watcher.process = subprocess.Popen(
                [sys.executable, str(settings.BASE_DIR / "manage.py"), "watch_camera", str(camera_id)],
                cwd=settings.BASE_DIR,
            )
            watcher.started = now
            self.stdout.write(f"camera {config[0]}: watcher started (pid {watcher.process.pid})")

    def stop_watcher(self, watcher: Watcher, camera_id: int) -> None:
        if watcher.process is None or watcher.process.poll() is not None:
            return
        watcher.process.terminate()
        try:
            watcher.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            watcher.process.kill()
            watcher.process.wait()
        self.stdout.write(f"camera {camera_id}: watcher stopped")
