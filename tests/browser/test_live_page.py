"""The live page in a real Chromium: a fake camera plays real face photos (a y4m file written here),
the page streams them over the WebSocket to the real web server and draws a face box; a viewer of
the browser camera, in another tab, sees the same frames with their boxes.

Uses the shared fixtures of tests/browser/conftest.py (the web server on the test database, Chromium with
a logged-in Staff page); skipped where Chromium or Playwright is missing.
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from detection.models import Camera
from tests.photos import face_photo, in_frame

pytestmark = pytest.mark.browser


def write_y4m(path: Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    """YUV4MPEG2 (4:2:0), the format Chromium's fake capture device reads."""
    h, w = frames[0].shape[:2]
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            out.write(b"FRAME\n")
            out.write(cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


@pytest.fixture
def browser_args(tmp_path) -> list[str]:
    video = write_y4m(tmp_path / "camera.y4m", [in_frame(face_photo(), 640, 480)] * 20)
    return [
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ]


@pytest.fixture
def kiosk(transactional_db) -> Camera:
    """A browser camera (made before Playwright starts: its loop forbids sync ORM calls)."""
    return Camera.objects.create(name="Kiosk", location="Entrance A", kind=Camera.Kind.BROWSER)


def test_the_live_page_draws_a_face_box_and_a_viewer_sees_it(kiosk, logged_in_page):
    page = logged_in_page
    viewer = page.context.new_page()
    viewer.goto(f"{page.base_url}/cameras/{kiosk.pk}/")
    viewer.wait_for_function("() => document.getElementById('live-status').textContent === 'Connected'")

    page.goto(f"{page.base_url}/live/")
    page.select_option("#live-camera", str(kiosk.pk))
    page.click("#live-start")
    page.wait_for_selector('#live-overlay[data-faces="1"]', timeout=60_000)
    assert page.text_content("#live-status") == "Streaming"
    page.wait_for_function("() => document.getElementById('live-rtt').textContent !== '–'", timeout=10_000)
    assert re.fullmatch(r"(< 1|\d+) ms|\d+\.\d s", page.text_content("#live-rtt"))  # in its unit
    # a box is really drawn: some overlay pixels are not transparent
    painted = page.evaluate(
        """() => { const c = document.getElementById('live-overlay');
           const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
           let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }"""
    )
    assert painted > 100

    # the camera's viewer page (another tab, another socket) draws the frame and the box
    viewer.wait_for_selector('#live-overlay[data-faces="1"]', timeout=30_000)
    assert viewer.evaluate("document.getElementById('live-overlay').width") == 640

    # Stop: no stale figures stay behind
    page.click("#live-start")
    assert page.text_content("#live-status") == "Stopped"
    stats = {i: page.text_content(f"#{i}") for i in ("live-fps-value", "live-rtt", "live-server", "live-faces")}
    assert stats == {"live-fps-value": "–", "live-rtt": "–", "live-server": "–", "live-faces": "0"}
    assert page.js_errors == []
