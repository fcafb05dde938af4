"""Small things people notice: the favicon, the Django admin's names, the recognition threshold
explained in words, and a way back to the app from the API docs."""

from __future__ import annotations

import pytest
from django.contrib import admin

from detection.models import PlatformSettings


@pytest.mark.django_db
def test_favicon_is_the_mask_logo(client, staff_client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"] == "/static/img/logo.svg"
    logo = client.get(response["Location"])
    assert logo.status_code == 200 and logo["Content-Type"] == "image/svg+xml"
    assert b"<svg" in b"".join(logo.streaming_content)
    page = staff_client.get("/").content.decode()
    assert '<link rel="icon" href="/static/img/logo.svg"' in page and 'class="bi bi-mask"' not in page


def test_django_admin_names_platform_settings_correctly():
    assert PlatformSettings._meta.verbose_name_plural == "platform settings"
    assert "settingss" not in str(admin.site._registry[PlatformSettings].opts.verbose_name_plural)


@pytest.mark.django_db
def test_the_recognition_threshold_is_explained_in_words(admin_client):
    html = admin_client.get("/settings/").content.decode()
    assert "Recognition strictness" in html
    assert "A lower number is stricter" in html and "A higher number is looser" in html
    assert "unknown" in html and "mistaken for someone" in html


@pytest.mark.django_db
def test_the_api_docs_lead_back_to_the_app(staff_client):
    html = staff_client.get("/api/docs/").content.decode()
    assert '<a href="/" id="back-to-app">' in html and "Back to MaskPortal" in html
    assert 'id="swagger-ui"' in html  # still the docs


@pytest.mark.django_db
def test_the_administration_toggle_shows_the_admin_area_is_open(admin_client):
    assert 'class="nav-link dropdown-toggle active"' in admin_client.get("/accounts/users/").content.decode()
    assert 'class="nav-link dropdown-toggle"' in admin_client.get("/detections/").content.decode()


@pytest.mark.django_db
def test_the_user_list_flags_users_who_must_change_their_password(admin_client):
    from tests.factories import UserFactory

    UserFactory(username="newcomer", must_change_password=True)
    assert "must change password" in admin_client.get("/accounts/users/?q=newcomer").content.decode()
