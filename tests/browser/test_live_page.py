"""The live page in a real Chromium: a fake camera plays real face photos (a y4m file written here),
the page streams them over the WebSocket to a real Daphne server and draws a face box.

Needs Chromium (`make browser`) and Playwright; skipped where either is missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from django.conf import settings
from django.db import connection

from tests.photos import face_photo, in_frame

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
REPO = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def write_y4m(path: Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    """YUV4MPEG2 (4:2:0), the format Chromium's fake capture device reads."""
    h, w = frames[0].shape[:2]
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            out.write(b"FRAME\n")
            out.write(cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def daphne_url():
    """A real Daphne (HTTP + WebSockets) on the test database."""
    port = _free_port()
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="maskportal.settings.test",
        MASKPORTAL_VAR_DIR=str(settings.VAR_DIR),
        MASKPORTAL_TEST_DB_NAME=str(connection.settings_dict["NAME"]),
    )
    log = Path(settings.VAR_DIR) / f"daphne-{port}.log"
    cmd = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "maskportal.asgi:application"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"daphne did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=20)


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (make browser)")
def test_the_live_page_draws_a_face_box(daphne_url, client, staff_user, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    frame = in_frame(face_photo(), 640, 480)
    video = write_y4m(tmp_path / "camera.y4m", [frame] * 20)
    client.force_login(staff_user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value

    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-video-capture={video}",
                "--no-sandbox",
            ],
        )
        try:
            context = browser.new_context()
            context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": daphne_url}])
            page = context.new_page()
            page.goto(f"{daphne_url}/live/")
            page.click("#live-start")
            page.wait_for_selector('#live-overlay[data-faces="1"]', timeout=60_000)
            assert page.text_content("#live-status") == "Streaming"
            page.wait_for_function("document.getElementById('live-rtt').textContent !== '–'", timeout=10_000)
            assert int(page.text_content("#live-rtt")) > 0
            # the overlay really has a box drawn: some pixels are not transparent
            painted = page.evaluate(
                """() => { const c = document.getElementById('live-overlay');
                   const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                   let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }"""
            )
            assert painted > 100
        finally:
            browser.close()
