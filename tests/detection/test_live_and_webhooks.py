"""Live pages and cameras: timings that mean something, one time format, a watcher that says when a
file ended, and webhooks with a test button, alert types and a camera scope."""

from __future__ import annotations

import json
import re
import time

import pytest
from django.urls import reverse

from detection.models import AlertWebhook, BatchJob, Camera, DetectionLog
from detection.services import alerts
from detection.services.cameras import CameraWatcher
from tests.detection.test_cameras_watch import person_walking_past, write_video
from tests.detection.test_live_alerts import SECRET, Receiver, receiver  # noqa: F401  (fixture)
from tests.photos import face_photo


@pytest.mark.django_db
def test_event_timings_read_in_their_own_units(staff_client):
    log = DetectionLog.objects.create(
        source="camera",
        timings_ms={"decode": 0.4, "detect": 0.0, "total": 1534.2, "store": 12.26, "duration_s": 2.34, "frames": 15},
    )
    html = staff_client.get(reverse("detection:log_detail", args=[log.pk])).content.decode()
    timings = html.split('id="timings">', 1)[1].split("</dd>", 1)[0]
    assert timings == "Decoding &lt; 1 ms · Storing 12 ms · Total 1.5 s · Seen for 2.3 s · Frames 15"
    assert "Timings (ms)" not in html


@pytest.mark.django_db
def test_times_have_one_format(staff_client, admin_client, staff_user):
    log = DetectionLog.objects.create(source="upload")
    BatchJob.objects.create(owner=staff_user)
    for client, url in (
        (staff_client, reverse("detection:log_detail", args=[log.pk])),
        (staff_client, reverse("detection:batch_list")),
        (admin_client, reverse("accounts:audit")),
    ):
        html = client.get(url).content.decode()
        when = html.split('<time datetime="', 1)[1].split("</time>", 1)[
            0
        ]  # a tooltip to the second, text to the minute
        assert re.fullmatch(r'[^"]+" title="\d{4}-\d\d-\d\d \d\d:\d\d:\d\d">\d{4}-\d\d-\d\d \d\d:\d\d', when), url


@pytest.mark.django_db(transaction=True)
def test_a_watcher_says_when_its_file_ended_and_plays_it_again(tmp_path, monkeypatch):
    video = write_video(tmp_path / "door.avi", person_walking_past(face_photo(), steps=3))
    camera = Camera.objects.create(name="Door", kind=Camera.Kind.FILE, url=video, max_fps=10)
    sent: list[dict] = []
    publish = alerts.realtime.publish

    def spy(group, msg):  # what the camera's viewers receive, still published for real
        if group == f"camera.{camera.pk}" and msg["type"] == "status":
            sent.append(msg)
        publish(group, msg)

    monkeypatch.setattr(alerts.realtime, "publish", spy)
    CameraWatcher(camera, paced=False).run()
    CameraWatcher(camera, paced=False).run()  # the supervisor starts a finished file again
    assert [m["state"] for m in sent] == ["playing", "ended", "playing", "ended"]
    assert sent[1]["text"].startswith("The video file ended")
    assert "Connected" not in json.dumps(sent)


@pytest.mark.django_db
def test_webhook_form_saves_alert_types_and_cameras(admin_client):
    gate = Camera.objects.create(name="Gate", kind=Camera.Kind.RTSP, url="rtsp://gate")
    form = admin_client.get(reverse("detection:webhook_create")).content.decode()
    assert "<legend" in form and 'value="danger"' in form and f'value="{gate.pk}"' in form
    response = admin_client.post(
        reverse("detection:webhook_create"),
        {
            "name": "ops",
            "url": "https://hooks.example/alerts",
            "secret": SECRET,
            "enabled": "on",
            "events": ["danger"],
            "cameras": [gate.pk],
        },
    )
    assert response.status_code == 302
    hook = AlertWebhook.objects.get()
    assert hook.events == ["danger"] and list(hook.cameras.all()) == [gate]
    page = admin_client.get(reverse("detection:webhook_list")).content.decode()
    assert "An unknown person without a mask" in page and "Gate" in page and "Send test" in page
    assert hook.wants("danger", gate.pk, {gate.pk}) and not hook.wants("warning", gate.pk, {gate.pk})
    assert not hook.wants("danger", gate.pk + 1, {gate.pk}) and hook.wants("danger", None, set())


@pytest.mark.django_db
def test_send_test_reports_what_the_receiver_answered(admin_client, receiver):  # noqa: F811
    ok, failing = receiver(), receiver(failures=1)
    good = AlertWebhook.objects.create(name="ok", url=ok.url, secret=SECRET)
    bad = AlertWebhook.objects.create(name="bad", url=failing.url, secret=SECRET)
    gone = AlertWebhook.objects.create(name="gone", url="http://127.0.0.1:9/hook", secret=SECRET)
    page = admin_client.post(reverse("detection:webhook_test", args=[good.pk]), follow=True).content.decode()
    assert "ok: The receiver accepted the test alert (204)." in page
    headers, body = ok.requests[0]
    assert json.loads(body)["event"] == "webhook.test" and alerts.verify(SECRET, body, headers[alerts.SIGNATURE_HEADER])
    page = admin_client.post(reverse("detection:webhook_test", args=[bad.pk]), follow=True).content.decode()
    assert "bad: The receiver answered 500" in page
    page = admin_client.post(reverse("detection:webhook_test", args=[gone.pk]), follow=True).content.decode()
    assert "gone: The receiver could not be reached (ConnectionError)" in page


def test_alerts_reach_only_the_webhooks_in_scope(celery_worker, receiver):  # noqa: F811
    gate, dock = (Camera.objects.create(name=n, kind=Camera.Kind.RTSP, url=f"rtsp://{n}") for n in ("gate", "dock"))
    everything, strangers_at_dock, known_only = receiver(), receiver(), receiver()
    AlertWebhook.objects.create(name="all", url=everything.url, secret=SECRET)
    AlertWebhook.objects.create(name="dock", url=strangers_at_dock.url, secret=SECRET, events=["danger"]).cameras.add(
        dock
    )
    AlertWebhook.objects.create(name="known", url=known_only.url, secret=SECRET, events=["warning"])
    alerts.notify(
        {
            "level": "danger",
            "text": "Unknown person without a mask",
            "log_id": 1,
            "camera": "gate",
            "camera_id": gate.pk,
        }
    )
    alerts.notify(
        {
            "level": "danger",
            "text": "Unknown person without a mask",
            "log_id": 2,
            "camera": "dock",
            "camera_id": dock.pk,
        }
    )
    deadline = time.monotonic() + 60
    while (len(everything.requests) < 2 or not strangers_at_dock.requests) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(everything.requests) == 2, celery_worker.output()
    assert [json.loads(body)["log_id"] for _, body in strangers_at_dock.requests] == [2]
    time.sleep(1)
    assert known_only.requests == []
