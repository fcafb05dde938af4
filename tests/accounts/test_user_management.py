"""An Admin resets passwords (shown once, changed at the next login), edits emails and deletes
users; generated passwords (first admin, new users, resets) must be changed before anything else,
and the first admin's credentials file goes at that change."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from rest_framework.authtoken.models import Token

from accounts import services
from accounts.models import AuditEvent, User
from tests.factories import PASSWORD, AdminFactory, UserFactory

NEW_PASSWORD = "a-fresh-and-long-passphrase-42"


def _change_password(client, old: str):
    return client.post(
        reverse("accounts:password_change"),
        {"old_password": old, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )


@pytest.mark.django_db
def test_admin_resets_a_password_shown_once_and_the_user_must_change_it(admin_client, staff_user, client):
    Token.objects.create(user=staff_user)
    response = admin_client.post(reverse("accounts:user_detail", args=[staff_user.pk]), {"action": "reset_password"})
    assert response.status_code == 200
    password = re.search(r'id="new-password">([^<]+)<', response.content.decode()).group(1)
    staff_user.refresh_from_db()
    assert staff_user.check_password(password) and staff_user.must_change_password
    assert not Token.objects.filter(user=staff_user).exists()
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.PASSWORD_RESET, target=staff_user).exists()
    page = admin_client.get(reverse("accounts:user_detail", args=[staff_user.pk])).content.decode()
    assert password not in page  # shown once

    assert client.login(username=staff_user.username, password=password)
    assert client.get(reverse("detection:log_list"))["Location"] == reverse("accounts:password_change")
    assert _change_password(client, password)["Location"] == reverse("dashboard")
    staff_user.refresh_from_db()
    assert not staff_user.must_change_password
    assert client.get(reverse("detection:log_list")).status_code == 200


@pytest.mark.django_db
def test_until_the_change_pages_redirect_and_the_api_answers_json(client):
    user = UserFactory(must_change_password=True)
    client.force_login(user)
    for url in ("/", "/detections/", "/accounts/profile/"):
        assert client.get(url)["Location"] == reverse("accounts:password_change"), url
    api = client.get("/api/v1/detections/")
    assert api.status_code == 403 and "Change your generated password" in api.json()["detail"]
    page = client.get(reverse("accounts:password_change"))
    assert page.status_code == 200 and b'id="password-change-required"' in page.content
    assert client.post(reverse("accounts:logout")).status_code == 302


@pytest.mark.django_db
def test_a_user_created_with_a_generated_password_changes_it_first(admin_client):
    admin_client.post(reverse("accounts:user_create"), {"username": "newbie", "email": "", "role": "Staff"})
    assert User.objects.get(username="newbie").must_change_password
    admin_client.post(
        reverse("accounts:user_create"), {"username": "chosen", "email": "", "role": "Staff", "password": NEW_PASSWORD}
    )
    assert not User.objects.get(username="chosen").must_change_password


@pytest.mark.django_db
def test_the_first_admin_changes_the_generated_password_and_its_file_goes(client, tmp_path):
    with override_settings(VAR_DIR=tmp_path, FIRST_ADMIN_PASSWORD=""):
        call_command("ensure_admin", stdout=io.StringIO())
        credentials = (tmp_path / "first_admin.txt").read_text()
        username, password = re.findall(r": (\S+)", credentials)
        admin = User.objects.get(username=username)
        assert admin.must_change_password
        assert client.login(username=username, password=password)
        assert client.get("/")["Location"] == reverse("accounts:password_change")
        assert _change_password(client, password).status_code == 302
        assert not (tmp_path / "first_admin.txt").exists()
        assert client.get("/").status_code == 200


@pytest.mark.django_db
def test_another_users_password_change_keeps_the_first_admin_file(client, staff_user, tmp_path):
    with override_settings(VAR_DIR=tmp_path):
        (tmp_path / "first_admin.txt").write_text("username: admin\npassword: x\n")
        client.force_login(staff_user)
        _change_password(client, PASSWORD)
        assert (tmp_path / "first_admin.txt").exists()


@pytest.mark.django_db
def test_admin_edits_an_email(admin_client, staff_user):
    url = reverse("accounts:user_detail", args=[staff_user.pk])
    admin_client.post(url, {"action": "email", "email": "new@example.org"})
    staff_user.refresh_from_db()
    assert staff_user.email == "new@example.org"
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.USER_UPDATED, target=staff_user).exists()
    bad = admin_client.post(url, {"action": "email", "email": "not an email"})
    assert bad.status_code == 400 and b"Enter a valid email address." in bad.content
    staff_user.refresh_from_db()
    assert staff_user.email == "new@example.org"


@pytest.mark.django_db
def test_admin_deletes_a_user_but_not_themselves(admin_client, admin_user, staff_user):
    name = staff_user.username
    response = admin_client.post(reverse("accounts:user_detail", args=[staff_user.pk]), {"action": "delete"})
    assert response["Location"] == reverse("accounts:user_list")
    assert not User.objects.filter(username=name).exists()
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.USER_DELETED, username=name).exists()
    admin_client.post(reverse("accounts:user_detail", args=[admin_user.pk]), {"action": "delete"})
    assert User.objects.filter(pk=admin_user.pk).exists()


@pytest.mark.django_db
def test_the_last_active_admin_cannot_be_deleted(admin_user):
    with pytest.raises(services.UserChangeRefused, match="only active Admin"):
        services.delete_user(admin_user)
    services.delete_user(AdminFactory())  # another one can go
    assert User.objects.filter(pk=admin_user.pk).exists()


@pytest.mark.django_db
def test_staff_cannot_reset_or_delete(staff_client):
    other = UserFactory()
    url = reverse("accounts:user_detail", args=[other.pk])
    for action in ("reset_password", "delete", "email"):
        assert staff_client.post(url, {"action": action}).status_code == 403
    assert User.objects.filter(pk=other.pk).exists()
