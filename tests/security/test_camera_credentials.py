"""Camera stream URLs may hold credentials: written through the API and the form, never shown back,
and camera configuration is read by Admins only."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from detection.models import Camera, redact_url

SECRET_URL = "rtsp://viewer:s3cr3t-Pa55@10.0.0.7:554/stream1"


def test_redaction_masks_passwords_and_bare_tokens_only():
    assert redact_url(SECRET_URL) == "rtsp://viewer:***@10.0.0.7:554/stream1"
    assert redact_url("http://tok3n@cam.local/mjpeg") == "http://***@cam.local/mjpeg"
    assert redact_url("rtsp://10.0.0.7/stream") == "rtsp://10.0.0.7/stream"
    assert redact_url("/var/video/gate.mp4") == "/var/video/gate.mp4"


def test_the_api_takes_credentials_but_never_returns_them(admin_token_client):
    created = admin_token_client.post("/api/v1/cameras/", {"name": "Gate", "kind": "rtsp", "url": SECRET_URL})
    assert created.status_code == 201, created.content
    camera = Camera.objects.get(name="Gate")
    assert camera.url == SECRET_URL  # stored as given: the camera process needs it
    for response in (
        created,
        admin_token_client.get("/api/v1/cameras/"),
        admin_token_client.get(f"/api/v1/cameras/{camera.pk}/"),
    ):
        body = response.content.decode()
        assert "s3cr3t-Pa55" not in body
        assert "rtsp://viewer:***@10.0.0.7:554/stream1" in body
    patched = admin_token_client.patch(f"/api/v1/cameras/{camera.pk}/", {"max_fps": 2}, format="json")
    assert patched.status_code == 200 and "s3cr3t" not in patched.content.decode()
    camera.refresh_from_db()
    assert camera.url == SECRET_URL and camera.max_fps == 2


def test_users_without_the_admin_role_cannot_read_camera_configuration(staff_user):
    Camera.objects.create(name="Gate", kind=Camera.Kind.RTSP, url=SECRET_URL)
    no_role = get_user_model().objects.create_user("visitor", password="visitor-pass-123")
    for user in (staff_user, no_role):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
        response = client.get("/api/v1/cameras/")
        assert response.status_code == 403, user
        assert "s3cr3t" not in response.content.decode()


def test_pages_never_render_the_password(admin_user, staff_user):
    camera = Camera.objects.create(name="Gate", kind=Camera.Kind.RTSP, url=SECRET_URL)
    admin, staff = Client(), Client()  # two clients: the fixtures' `client` is one shared object
    admin.force_login(admin_user)
    staff.force_login(staff_user)
    edit = admin.get(f"/cameras/{camera.pk}/edit/")
    assert edit.status_code == 200 and "rtsp://viewer:***@10.0.0.7:554/stream1" in edit.content.decode()
    for url in ("/cameras/", f"/cameras/{camera.pk}/", f"/cameras/{camera.pk}/edit/", "/live/"):
        assert "s3cr3t-Pa55" not in admin.get(url).content.decode(), url
    for url in ("/cameras/", f"/cameras/{camera.pk}/", "/live/"):
        page = staff.get(url)
        assert page.status_code == 200, url
        assert "s3cr3t-Pa55" not in page.content.decode() and "10.0.0.7" not in page.content.decode(), url


def test_saving_the_form_with_the_masked_url_keeps_the_stored_credentials(admin_client):
    camera = Camera.objects.create(name="Gate", kind=Camera.Kind.RTSP, url=SECRET_URL)
    form = {
        "name": "Gate",
        "location": "North",
        "kind": "rtsp",
        "url": redact_url(SECRET_URL),
        "enabled": "on",
        "max_fps": "5",
    }
    assert admin_client.post(f"/cameras/{camera.pk}/edit/", form).status_code == 302
    camera.refresh_from_db()
    assert camera.url == SECRET_URL and camera.location == "North"
