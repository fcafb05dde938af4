"""`watch_camera` on a real video file made from real face photos; back-off on a dead stream;
`watch_cameras` starts and stops watcher processes as cameras are enabled and disabled."""

from __future__ import annotations

import io
import time

import cv2
import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from detection.models import Camera, DetectionLog
from detection.services.cameras import CameraWatcher
from tests.photos import face_photo, in_frame, masked_face_photo

FPS = 10


def write_video(path, frames: list[np.ndarray]) -> str:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (640, 480))
    assert writer.isOpened()
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return str(path)


def person_walking_past(photo: np.ndarray, steps: int = 15) -> list[np.ndarray]:
    """The portrait sliding across the frame, then an empty scene."""
    face = in_frame(photo, 640, 480)
    empty = np.full((480, 640, 3), 127, np.uint8)
    return [np.roll(face, 4 * i - 30, axis=1) for i in range(steps)] + [empty] * 25


@pytest.fixture
def door_video(tmp_path):
    return write_video(tmp_path / "door.avi", person_walking_past(face_photo()))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
def test_a_person_in_a_video_file_is_one_camera_event(tmp_path, masked):
    photo = masked_face_photo() if masked else face_photo()
    door_video = write_video(tmp_path / "door.avi", person_walking_past(photo))
    camera = Camera.objects.create(
        name="Door", location="Entrance A", kind=Camera.Kind.FILE, url=door_video, max_fps=FPS
    )
    out = io.StringIO()
    call_command("watch_camera", "Door", fast=True, stdout=out)
    assert "40 frames analysed of 40 read, 1 events" in out.getvalue()
    log = DetectionLog.objects.get()
    assert log.camera == camera and log.source == DetectionLog.Source.CAMERA and log.face_count == 1
    assert log.summary == f"Unknown person {'with' if masked else 'without'} a mask at Entrance A"
    assert log.masked_count == int(masked) and log.image
    assert log.timings_ms["frames"] == 15


@pytest.mark.django_db
def test_the_frame_rate_cap_skips_frames(door_video):
    camera = Camera.objects.create(name="Slow", kind=Camera.Kind.FILE, url=door_video, max_fps=2)
    stats = CameraWatcher(camera, paced=False).run()
    assert stats.frames_read == 40 and stats.frames_analysed == 8  # 4 s of video at 2 frames/s


@pytest.mark.django_db
def test_a_dead_stream_is_retried_with_back_off():
    camera = Camera.objects.create(name="Gate", kind=Camera.Kind.MJPEG, url="http://127.0.0.1:1/video.mjpg")
    delays: list[float] = []
    watcher = CameraWatcher(camera, backoff=(1.0, 8.0))

    def wait(seconds: float) -> bool:
        delays.append(seconds)
        if len(delays) == 5:
            watcher.stop.set()
        return watcher.stop.is_set()

    watcher.wait = wait
    stats = watcher.run()
    assert delays == [1.0, 2.0, 4.0, 8.0, 8.0] and stats.failures == 5 and stats.connects == 0


@pytest.mark.django_db
def test_bad_cameras_are_refused():
    Camera.objects.create(name="Kiosk", kind=Camera.Kind.BROWSER)
    Camera.objects.create(name="Off", kind=Camera.Kind.FILE, url="/x.avi", enabled=False)
    for name, text in [("Nope", "no camera"), ("Kiosk", "browser camera"), ("Off", "disabled")]:
        with pytest.raises(CommandError, match=text):
            call_command("watch_camera", name)


@pytest.mark.django_db(transaction=True)
def test_watch_cameras_runs_one_watcher_per_enabled_camera(door_video, monkeypatch):
    from detection.management.commands.watch_cameras import Command
    from detection.services.cameras import watched_cameras

    monkeypatch.setenv("MASKPORTAL_TEST_DB_NAME", str(connection.settings_dict["NAME"]))
    camera = Camera.objects.create(name="Loop", kind=Camera.Kind.FILE, url=door_video, max_fps=2)
    Camera.objects.create(name="Kiosk", kind=Camera.Kind.BROWSER)
    supervisor, watchers = Command(stdout=io.StringIO(), stderr=io.StringIO()), {}
    supervisor.reconcile(watchers, watched_cameras())
    assert list(watchers) == [camera.pk]
    process = watchers[camera.pk].process
    try:
        time.sleep(1.0)
        assert process.poll() is None  # watching (the paced file takes 4 s)
        camera.enabled = False
        camera.save()
        supervisor.reconcile(watchers, watched_cameras())
        assert watchers == {} and process.poll() is not None
    finally:
        if process.poll() is None:
            process.kill()
