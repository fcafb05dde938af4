"""Dashboard: figures (compliance, trends, breakdowns, recent events) and live detection events."""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from detection.models import BatchJob, Camera, DetectedFace, DetectionLog
from detection.services import stats
from tests.sockets import token_header

pytestmark = pytest.mark.django_db


def _face(log, mask, **kwargs):
    return DetectedFace.objects.create(
        log=log,
        x1=0,
        y1=0,
        x2=9,
        y2=9,
        score=0.9,
        mask_label=mask,
        mask_probability=0.9 if mask == "with_mask" else 0.1,
        **kwargs,
    )


def test_figures(staff_user):
    gate = Camera.objects.create(name="Gate")
    upload = DetectionLog.objects.create(source="upload", face_count=2)
    _face(upload, "with_mask")
    corrected = _face(upload, "with_mask", corrected_mask_label="without_mask", review_state="corrected")
    live = DetectionLog.objects.create(source="camera", camera=gate, face_count=1)
    _face(live, "with_mask")
    old = DetectionLog.objects.create(source="api", face_count=1)
    _face(old, "without_mask")
    DetectionLog.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
    BatchJob.objects.create(owner=staff_user, status="running", total=3)

    figures = stats.dashboard()
    assert figures["today"] == {
        "faces": 3,
        "masked": 2,
        "unmasked": 1,
        "compliance": round(2 / 3, 4),
        "unknown": 3,
        "images": 2,
    }
    assert sum(h["faces"] for h in figures["by_hour"]) == 3
    assert [d["faces"] for d in figures["by_day"]][-4:] == [1, 0, 0, 3]
    assert {r["source"]: r["faces"] for r in figures["by_source"]} == {"upload": 2, "camera": 1}
    assert figures["by_camera"] == [{"camera": "Gate", "faces": 1, "masked": 1, "compliance": 1.0}]
    assert [f["id"] for f in figures["recent_violations"]][0] == corrected.pk  # the reviewed label counts
    assert figures["running_jobs"][0]["status"] == "running"


def test_empty_dashboard_has_no_rate():
    assert stats.dashboard()["today"]["compliance"] is None


def test_page_renders_figures_and_charts(staff_client):
    log = DetectionLog.objects.create(source="upload", face_count=1)
    _face(log, "without_mask")
    page = staff_client.get("/")
    assert page.status_code == 200
    for marker in (
        b'id="chart-hour"',
        b'id="chart-day"',
        b"chart.umd.min.js",
        b"js/dashboard.js",
        b'id="dashboard-stats"',
        b'id="live-events"',
        b"0%",
    ):
        assert marker in page.content


def _application():
    from channels.auth import AuthMiddlewareStack
    from channels.routing import URLRouter

    from accounts.ws_auth import TokenAuthMiddleware
    from maskportal.routing import websocket_urlpatterns

    return AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns)))


@pytest.mark.django_db(transaction=True)
async def test_a_new_analysis_reaches_the_dashboard_socket(classifier, face_jpeg, staff_user):
    from channels.db import database_sync_to_async
    from rest_framework.authtoken.models import Token

    from detection.services.analysis import analyse_and_log

    token = await database_sync_to_async(Token.objects.create)(user=staff_user)
    socket = WebsocketCommunicator(_application(), "/ws/notifications/", headers=[token_header(token.key)])
    assert (await socket.connect())[0]
    log = await database_sync_to_async(analyse_and_log)(face_jpeg, user=staff_user, source="upload")
    msg = await socket.receive_json_from(timeout=10)
    while msg.get("log_id") != log.pk:  # older messages other tests left in the outbox come first
        msg = await socket.receive_json_from(timeout=10)
    assert msg["type"] == "detection" and msg["counts"]["faces"] == 1
    assert msg["summary"] == log.summary
    await socket.disconnect()
