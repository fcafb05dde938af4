"""`manage.py watch_camera NAME`: watch one fixed camera until stopped (SIGTERM / Ctrl-C)."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from detection.models import Camera
from detection.services.cameras import CameraWatcher, find_camera


class Command(BaseCommand):
    help = "Read a camera's stream, analyse it live, publish results to its viewers and log one event per person."

    def add_arguments(self, parser):
        parser.add_argument("camera", metavar="NAME", help="camera name (or id)")
        parser.add_argument("--loop", action="store_true", help="replay a video file from the start when it ends")
        parser.add_argument("--fast", action="store_true", help="read a video file at full speed, not real time")

    def handle(self, *args, **options):
        try:
            camera = find_camera(options["camera"])
        except Camera.DoesNotExist as exc:
            raise CommandError(str(exc)) from exc
        if not camera.enabled:
            raise CommandError(f"camera {camera.name} is disabled")
        try:
            watcher = CameraWatcher(camera, loop=options["loop"], paced=not options["fast"], stop=_stop_on_signals())
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        stats = watcher.run()
        self.stdout.write(
            f"{camera.name}: {stats.frames_analysed} frames analysed of {stats.frames_read} read, "
            f"{stats.events} events, {stats.connects} connections, {stats.failures} failures"
        )


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    return stop
