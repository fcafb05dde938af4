"""Live page and camera pages: Staff watch, Admins configure cameras and webhooks (pages and API)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import AuditEvent
from detection.models import AlertWebhook, Camera

pytestmark = pytest.mark.django_db


@pytest.fixture
def camera():
    return Camera.objects.create(name="Gate", location="Entrance A", kind=Camera.Kind.RTSP, url="rtsp://cam/1")


def test_staff_open_the_live_page_and_watch_cameras(staff_client, camera):
    browser_cam = Camera.objects.create(name="Kiosk", kind=Camera.Kind.BROWSER)
    page = staff_client.get(reverse("detection:live"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "js/live.js" in html and 'data-mode="browser"' in html
    assert f'value="{browser_cam.pk}"' in html  # report as a browser camera
    assert reverse("detection:camera_detail", args=[camera.pk]) in html
    listing = staff_client.get(reverse("detection:camera_list")).content.decode()
    assert "Gate" in listing and reverse("detection:camera_create") not in listing
    detail = staff_client.get(reverse("detection:camera_detail", args=[camera.pk]))
    assert detail.status_code == 200 and f'data-camera="{camera.pk}"' in detail.content.decode()


def test_staff_cannot_change_cameras_or_webhooks(staff_client, camera):
    for name, args in [
        ("camera_create", []),
        ("camera_update", [camera.pk]),
        ("camera_delete", [camera.pk]),
        ("webhook_list", []),
        ("webhook_create", []),
    ]:
        assert staff_client.get(reverse(f"detection:{name}", args=args)).status_code == 403
        assert staff_client.post(reverse(f"detection:{name}", args=args), {"name": "x"}).status_code == 403
    assert Camera.objects.get(pk=camera.pk).name == "Gate"


def test_admin_creates_edits_and_deletes_a_camera(admin_client):
    create = reverse("detection:camera_create")
    bad = admin_client.post(create, {"name": "Door", "kind": "rtsp", "url": "http://x", "max_fps": 5})
    assert bad.status_code == 200 and "rtsp://" in bad.content.decode()
    missing = admin_client.post(create, {"name": "Door", "kind": "file", "max_fps": 5})
    assert "needs its stream URL" in missing.content.decode()
    assert not Camera.objects.exists()

    created = admin_client.post(
        reverse("detection:camera_create"),
        {"name": "Door", "location": "Back", "kind": "file", "url": "/videos/door.avi", "enabled": "on", "max_fps": 4},
    )
    assert created.status_code == 302
    door = Camera.objects.get(name="Door")
    assert door.enabled and door.max_fps == 4
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.CAMERA_CREATED).exists()
    admin_client.post(
        reverse("detection:camera_update", args=[door.pk]),
        {"name": "Door", "location": "Back door", "kind": "file", "url": "/videos/door.avi", "max_fps": 2},
    )
    door.refresh_from_db()
    assert door.location == "Back door" and not door.enabled
    assert admin_client.post(reverse("detection:camera_delete", args=[door.pk])).status_code == 302
    assert not Camera.objects.exists()


def test_admin_configures_a_webhook(admin_client):
    hook = {"name": "Ops", "url": "https://ops.example/hook", "secret": "short"}
    short = admin_client.post(reverse("detection:webhook_create"), hook)
    assert "at least 16" in short.content.decode()
    admin_client.post(
        reverse("detection:webhook_create"),
        {"name": "Ops", "url": "https://ops.example/hook", "secret": "s" * 20, "enabled": "on"},
    )
    hook = AlertWebhook.objects.get()
    assert hook.enabled and hook.secret == "s" * 20
    assert "ops.example" in admin_client.get(reverse("detection:webhook_list")).content.decode()


def test_camera_api_is_for_admins_only(staff_user, admin_token_client, camera):
    token_client = APIClient()  # not the `token_client` fixture: it shares one client with the admin's
    token_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=staff_user).key}")
    assert token_client.get("/api/v1/cameras/").status_code == 403
    listing = admin_token_client.get("/api/v1/cameras/")
    assert listing.status_code == 200 and listing.json()["results"][0]["name"] == "Gate"
    assert token_client.post("/api/v1/cameras/", {"name": "X", "kind": "browser"}).status_code == 403
    assert token_client.delete(f"/api/v1/cameras/{camera.pk}/").status_code == 403

    created = admin_token_client.post("/api/v1/cameras/", {"name": "Lobby", "kind": "mjpeg", "url": "http://cam/video"})
    assert created.status_code == 201, created.content
    bad = admin_token_client.post("/api/v1/cameras/", {"name": "Bad", "kind": "rtsp", "url": "ftp://x"})
    assert bad.status_code == 400 and "url" in bad.json()
    assert admin_token_client.patch(f"/api/v1/cameras/{camera.pk}/", {"max_fps": 99}, format="json").status_code == 400
    assert admin_token_client.patch(f"/api/v1/cameras/{camera.pk}/", {"max_fps": 2}, format="json").status_code == 200
    assert admin_token_client.delete(f"/api/v1/cameras/{created.json()['id']}/").status_code == 204
