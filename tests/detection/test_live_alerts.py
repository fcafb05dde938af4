"""Alerts: signed webhook payloads, retried with back-off, delivered by a real worker for a live event."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from detection.models import AlertWebhook, Camera, DetectionLog
from detection.services import alerts
from detection.services.live import LiveSession
from detection.tasks.alerts import deliver_webhook
from tests.photos import face_photo, in_frame, masked_face_photo

SECRET = "a-long-shared-secret"


class Receiver:
    """A real HTTP endpoint that fails the first `failures` requests."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.requests: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                status = 500 if len(receiver.requests) <= receiver.failures else 204
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make(failures: int = 0) -> Receiver:
        made.append(Receiver(failures))
        return made[-1]

    yield make
    for r in made:
        r.close()


PAYLOAD = {"event": "detection.alert", "level": "danger", "text": "Unknown person without a mask", "log_id": 1}


@pytest.mark.django_db
def test_payload_is_signed_and_failures_are_retried(receiver):
    server = receiver(failures=2)
    hook = AlertWebhook.objects.create(name="ops", url=server.url, secret=SECRET)
    result = deliver_webhook.apply(args=[hook.pk, PAYLOAD])
    assert result.get() == 204 and len(server.requests) == 3
    headers, body = server.requests[-1]
    assert json.loads(body) == PAYLOAD and headers["Content-Type"] == "application/json"
    assert alerts.verify(SECRET, body, headers[alerts.SIGNATURE_HEADER])
    assert not alerts.verify("another-secret-value", body, headers[alerts.SIGNATURE_HEADER])


@pytest.mark.django_db
def test_a_receiver_that_stays_down_fails_after_the_retries(receiver):
    server = receiver(failures=100)
    hook = AlertWebhook.objects.create(name="down", url=server.url, secret=SECRET)
    result = deliver_webhook.apply(args=[hook.pk, PAYLOAD])
    assert result.failed() and len(server.requests) == 1 + deliver_webhook.max_retries


@pytest.mark.django_db
def test_a_disabled_webhook_is_not_called(receiver):
    server = receiver()
    hook = AlertWebhook.objects.create(name="off", url=server.url, secret=SECRET, enabled=False)
    assert deliver_webhook.apply(args=[hook.pk, PAYLOAD]).get() is None and server.requests == []


def test_only_unmasked_people_raise_alerts():
    assert alerts.level_for("without_mask", known=False) == "danger"
    assert alerts.level_for("without_mask", known=True) == "warning"
    assert alerts.level_for("with_mask", known=False) is None


def walk_past(session: LiveSession, photo) -> list:
    frame = in_frame(photo, 640, 480)
    for i in range(5):
        session.process_image(frame, i, now=i * 0.1)
    return session.record(session.close())


def test_a_live_event_reaches_the_webhook_through_a_worker(celery_worker, receiver):
    server = receiver()
    AlertWebhook.objects.create(name="ops", url=server.url, secret=SECRET)
    camera = Camera.objects.create(name="Gate", location="Entrance A", kind=Camera.Kind.RTSP, url="rtsp://gate")
    (masked,) = walk_past(LiveSession(camera=camera, source=DetectionLog.Source.CAMERA), masked_face_photo())
    (log,) = walk_past(LiveSession(camera=camera, source=DetectionLog.Source.CAMERA), face_photo())
    assert masked.summary == "Unknown person with a mask at Entrance A"
    deadline = time.monotonic() + 60
    while not server.requests and time.monotonic() < deadline:
        time.sleep(0.2)
    assert server.requests, celery_worker.output()
    headers, body = server.requests[0]
    payload = json.loads(body)
    # the masked person, logged first, raised no alert: the first delivery is the unmasked one
    assert payload["log_id"] == log.pk and payload["text"] == "Unknown person without a mask at Entrance A"
    assert payload["camera"] == "Gate" and payload["location"] == "Entrance A" and payload["unmasked"] == 1
    assert alerts.verify(SECRET, body, headers[alerts.SIGNATURE_HEADER])
