"""The live socket: authentication, origin, frames in and results out, errors that keep the socket
open, the frame-rate limit, latest-frame-wins backpressure, one event per track, camera viewers."""

from __future__ import annotations

import struct
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import override_settings
from rest_framework.authtoken.models import Token

from detection.models import Camera, DetectionLog
from maskportal.asgi import application
from tests.conftest import wait_until_idle
from tests.photos import encode, face_photo, in_frame
from tests.sockets import DISCONNECT_S, close, token_header

ORIGIN = (b"origin", b"http://testserver")
pytestmark = pytest.mark.django_db(transaction=True)


def frame_bytes(frame_id: int | None = None) -> bytes:
    data = _jpeg()
    return data if frame_id is None else struct.pack(">I", frame_id) + data


_cache: dict[str, bytes] = {}


def _jpeg() -> bytes:
    if "face" not in _cache:
        _cache["face"] = encode(in_frame(face_photo(), 640, 480), "JPEG", quality=85)
    return _cache["face"]


async def token_for(user) -> str:
    return (await database_sync_to_async(Token.objects.create)(user=user)).key


_open: list[WebsocketCommunicator] = []


@pytest.fixture(autouse=True)
async def close_sockets():
    """Disconnect every socket a test opened, also when it failed half-way (no consumer left running)."""
    yield
    sockets, _open[:] = list(_open), []
    for communicator in sockets:
        await close(communicator)


async def connect(path: str, token: str | None = None, *, origin=ORIGIN) -> WebsocketCommunicator:
    headers = [origin, (b"host", b"testserver"), *([token_header(token)] if token else [])]
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await communicator.connect(timeout=10)
    assert connected, f"refused with {code}"
    _open.append(communicator)
    return communicator


async def receive(communicator, kind: str, timeout: float = 30.0) -> dict:
    """The next message of `kind` (skipping others)."""
    while True:
        msg = await communicator.receive_json_from(timeout=timeout)
        if msg["type"] == kind:
            return msg


async def receive_each(communicator, kinds: set[str], timeout: float = 10.0) -> dict[str, dict]:
    """The first message of each of `kinds`, in whatever order they come (skipping others)."""
    found: dict[str, dict] = {}
    seen: list[str] = []
    try:
        while set(found) < kinds:
            msg = await communicator.receive_json_from(timeout=timeout)
            seen.append(msg["type"])
            if msg["type"] in kinds:
                found.setdefault(msg["type"], msg)
    except TimeoutError as exc:
        raise AssertionError(f"waited for {sorted(kinds - set(found))}; received {seen}") from exc
    return found


def test_live_threads_still_busy_when_a_test_ends_are_waited_for():
    """The guard between tests (tests/conftest.py): a frame or a track still being logged when a
    test ends used to write its log into the next test's database."""
    pool = ThreadPoolExecutor(max_workers=2)
    finished: list[int] = []
    for delay in (0.3, 0.6, 0.1):
        pool.submit(lambda delay=delay: (time.sleep(delay), finished.append(1)))
    wait_until_idle(pool)
    assert len(finished) == 3
    pool.shutdown()


async def test_a_socket_cancelled_by_a_receive_timeout_is_closed_quietly(staff_user):
    """A receive that times out cancels the consumer; closing it afterwards used to raise
    CancelledError in the fixture's teardown, which skipped the database flush for every later test."""
    live = await connect("/ws/live/", await token_for(staff_user))
    with pytest.raises(TimeoutError):
        await live.receive_from(timeout=0.05)
    assert live.future.cancelled()
    await close(live)


async def test_anonymous_is_refused():
    communicator = WebsocketCommunicator(application, "/ws/live/", headers=[ORIGIN, (b"host", b"testserver")])
    connected, code = await communicator.connect()
    assert not connected and code == 4401


async def test_foreign_origin_is_refused(staff_user):
    key = await token_for(staff_user)
    headers = [(b"origin", b"http://evil.example"), (b"host", b"testserver"), token_header(key)]
    communicator = WebsocketCommunicator(application, "/ws/live/", headers=headers)
    connected, _ = await communicator.connect()
    assert not connected


async def test_a_frame_gets_a_result_with_the_face(staff_user):
    live = await connect("/ws/live/", await token_for(staff_user))
    await live.send_to(bytes_data=frame_bytes(41))
    result = await receive(live, "frame")
    assert result["frame"] == 41 and (result["width"], result["height"]) == (640, 480)
    (face,) = result["faces"]
    x1, y1, x2, y2 = face["box"]
    assert 64 < x1 < x2 < 576 and 0 < y1 < y2 < 480
    assert face["mask"] in ("with_mask", "without_mask") and face["track"] >= 1
    assert {"decode", "detect", "classify", "recognize", "track", "total"} <= set(result["timings_ms"])
    await live.send_to(bytes_data=frame_bytes())  # a bare JPEG is numbered by the server
    assert (await receive(live, "frame"))["frame"] == 2
    await live.disconnect(timeout=DISCONNECT_S)


async def test_malformed_and_oversize_frames_get_errors_and_the_socket_lives(staff_user):
    live = await connect("/ws/live/", await token_for(staff_user))
    for data, code in [
        (b"\x00\x00\x00\x01not an image", "bad_frame"),
        (b"\xff\xd8\xff\xe0truncated", "bad_frame"),
        (b"ab", "bad_frame"),
        (b"\xff\xd8\xff" + b"\0" * settings.LIVE_MAX_FRAME_BYTES, "frame_too_large"),
    ]:
        await live.send_to(bytes_data=data)
        error = await receive(live, "error")
        assert error["code"] == code, error
    await live.send_to(text_data="{not json")
    assert (await receive(live, "error"))["code"] == "bad_json"
    await live.send_json_to({"type": "ping", "id": 3})
    assert await receive(live, "pong") == {"type": "pong", "id": 3}
    await live.send_to(bytes_data=frame_bytes(5))
    assert (await receive(live, "frame"))["frame"] == 5
    await live.disconnect(timeout=DISCONNECT_S)


@override_settings(LIVE_MAX_FPS=2)
async def test_frames_over_the_rate_limit_are_refused(staff_user):
    live = await connect("/ws/live/", await token_for(staff_user))
    for _ in range(6):
        await live.send_to(bytes_data=b"\x00\x00\x00\x01junk")
    codes = [(await receive(live, "error"))["code"] for _ in range(3)]
    # two frames pass the limit (and fail to decode, in the thread pool); the rest are refused at once
    assert sorted(codes) == ["bad_frame", "bad_frame", "rate_limited"]
    assert await live.receive_nothing(timeout=0.3)  # one rate-limit message per second, not one per frame
    await live.send_json_to({"type": "ping"})
    assert (await receive(live, "pong"))["type"] == "pong"
    await live.disconnect(timeout=DISCONNECT_S)


async def test_latest_frame_wins_and_every_frame_is_answered_once(staff_user):
    live = await connect("/ws/live/", await token_for(staff_user))
    ids = list(range(100, 112))
    for frame_id in ids:
        await live.send_to(bytes_data=frame_bytes(frame_id))
    answered: dict[int, str] = {}
    while len(answered) < len(ids):
        msg = await live.receive_json_from(timeout=60)
        if msg["type"] in ("frame", "dropped"):
            assert msg["frame"] not in answered
            answered[msg["frame"]] = msg["type"]
    assert set(answered) == set(ids)
    assert answered[ids[0]] == "frame" and answered[ids[-1]] == "frame"
    assert "dropped" in answered.values()  # frames were not queued behind the busy analysis
    await live.disconnect(timeout=DISCONNECT_S)


async def test_a_track_becomes_one_logged_event_with_an_alert(staff_user, admin_user):
    dashboard = await connect("/ws/notifications/", await token_for(admin_user))
    live = await connect("/ws/live/", await token_for(staff_user))
    for frame_id in range(1, 6):
        await live.send_to(bytes_data=frame_bytes(frame_id))
        await receive(live, "frame")
    await live.disconnect(timeout=DISCONNECT_S)  # the person leaves: the open track ends

    logs = await database_sync_to_async(lambda: list(DetectionLog.objects.all()))()
    assert len(logs) == 1
    log = logs[0]
    assert log.source == "live" and log.face_count == 1 and log.user_id == staff_user.pk
    assert log.summary == f"Unknown person without a mask at the live page of {staff_user.username}"
    assert log.unmasked_count == 1 and log.image
    assert log.timings_ms["frames"] == 5
    messages = await receive_each(dashboard, {"detection", "alert"})
    event, alert = messages["detection"], messages["alert"]
    assert event["log_id"] == log.pk and event["summary"] == log.summary
    assert alert == {"type": "alert", "level": "danger", "text": log.summary, "log_id": log.pk, "camera": None}
    await dashboard.disconnect()


async def test_a_browser_camera_is_watched_by_viewers(staff_user, admin_user):
    camera = await database_sync_to_async(Camera.objects.create)(name="Kiosk", location="Entrance A")
    viewer = await connect(f"/ws/cameras/{camera.pk}/", await token_for(admin_user))
    live = await connect(f"/ws/live/?camera={camera.pk}", await token_for(staff_user))
    for frame_id in range(1, 5):
        await live.send_to(bytes_data=frame_bytes(frame_id))
        await receive(live, "frame")
    seen = await receive(viewer, "frame", timeout=10)
    assert seen["camera"] == camera.pk and len(seen["faces"]) == 1
    assert seen["image"].startswith("data:image/jpeg;base64,")
    await live.disconnect(timeout=DISCONNECT_S)
    event = await receive(viewer, "detection", timeout=10)
    assert event["summary"].endswith("at Entrance A")
    await viewer.disconnect()


async def test_unknown_cameras_are_refused(staff_user):
    key = await token_for(staff_user)
    fixed = await database_sync_to_async(Camera.objects.create)(name="Gate", kind=Camera.Kind.RTSP, url="rtsp://x")
    for path in ("/ws/cameras/999/", f"/ws/live/?camera={fixed.pk}", "/ws/live/?camera=abc"):
        headers = [ORIGIN, (b"host", b"testserver"), token_header(key)]
        communicator = WebsocketCommunicator(application, path, headers=headers)
        connected, _ = await communicator.connect()
        assert not connected, path


@pytest.mark.redis
@pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL")
async def test_an_idle_viewer_survives_the_redis_read_timeout(staff_user):
    """redis-py's default 5 s read timeout used to kill a socket idle for 5 s (blocking receive)."""
    from maskportal import realtime

    camera = await database_sync_to_async(Camera.objects.create)(name="Quiet", kind=Camera.Kind.RTSP, url="rtsp://q")
    viewer = await connect(f"/ws/cameras/{camera.pk}/", await token_for(staff_user))
    assert await viewer.receive_nothing(timeout=7)
    await realtime.apublish(realtime.camera_group(camera.pk), realtime.message("frame", frame=1, faces=[]))
    assert (await receive(viewer, "frame", timeout=5))["frame"] == 1
    await viewer.disconnect()
