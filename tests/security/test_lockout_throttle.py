"""Brute force and floods: failed logins lock a username out from that address (audited, lifted by an
Admin), and the API is throttled per user, more strictly on the endpoints that run the engine."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings

from accounts.models import AuditEvent
from tests.factories import PASSWORD

LOGIN = "/accounts/login/"


def _login(client: Client, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password})


def test_wrong_passwords_lock_the_account_out_even_for_the_right_one(staff_user):
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        assert _login(attacker, staff_user.username, "wrong-guess").status_code in (200, 429)
    locked = _login(attacker, staff_user.username, PASSWORD)
    assert locked.status_code == 429 and "Login locked" in locked.content.decode()
    assert "_auth_user_id" not in attacker.session
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.LOCKED_OUT, username=staff_user.username).exists()
    # by user + address: the same person from their own desk still logs in
    desk = Client(REMOTE_ADDR="198.51.100.7")
    assert _login(desk, staff_user.username, PASSWORD).status_code == 302


@override_settings(AXES_FAILURE_LIMIT=2)
def test_the_failure_limit_is_a_setting(staff_user):
    client = Client(REMOTE_ADDR="203.0.113.10")
    for _ in range(2):
        _login(client, staff_user.username, "nope")
    assert _login(client, staff_user.username, PASSWORD).status_code == 429


def test_an_admin_unlocks_a_locked_out_user(staff_user, admin_client):
    attacker = Client(REMOTE_ADDR="203.0.113.11")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(attacker, staff_user.username, "wrong-guess")
    page = admin_client.get(f"/accounts/users/{staff_user.pk}/").content.decode()
    assert "Unlock login" in page
    admin_client.post(f"/accounts/users/{staff_user.pk}/", {"action": "unlock"})
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.UNLOCKED, target=staff_user).exists()
    assert _login(attacker, staff_user.username, PASSWORD).status_code == 302


def test_the_api_has_default_throttles():
    classes = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"]
    assert {
        "accounts.throttles.UserThrottle",
        "accounts.throttles.AnonThrottle",
        "accounts.throttles.ScopedThrottle",
    } <= set(classes)
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert set(rates) >= {"anon", "user", "analysis"}


def _rates(**rates) -> dict:
    return {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
    }


def _not_an_image() -> SimpleUploadedFile:
    return SimpleUploadedFile("x.jpg", b"not an image")


@pytest.mark.parametrize(
    ("url", "field"), [("/api/v1/analyze/", "image"), ("/api/v1/recognize/", "file"), ("/api/v1/batches/", "files")]
)
def test_analysis_endpoints_are_throttled_more_strictly(token_client, url, field):
    with override_settings(REST_FRAMEWORK=_rates(analysis="2/minute", user="100/minute")):
        answers = [token_client.post(url, {field: _not_an_image()}, format="multipart").status_code for _ in range(3)]
        assert answers[:2] != [429, 429] and answers[2] == 429, answers
        assert token_client.get("/api/v1/detections/").status_code == 200  # other endpoints keep their own budget


def test_every_user_has_an_overall_api_budget(token_client):
    with override_settings(REST_FRAMEWORK=_rates(user="3/minute")):
        answers = [token_client.get("/api/v1/detections/").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]


def test_a_throttled_answer_says_when_to_come_back(token_client):
    with override_settings(REST_FRAMEWORK=_rates(user="1/minute")):
        token_client.get("/api/v1/stats/")
        response = token_client.get("/api/v1/stats/")
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
