"""The API token cache: no query for a known token, and every change of rights seen at once."""

from datetime import datetime

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.authtoken.models import Token

from accounts.authentication import GENERATION_KEY, _entry_key
from accounts.roles import ADMIN, STAFF, set_role

LOG_LIST = "/api/v1/detections/"  # needs detection.view_detectionlog (Staff)


@pytest.fixture
def token(staff_user):
    return Token.objects.create(user=staff_user)


@pytest.fixture
def api(api_client, token):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api_client.get(LOG_LIST).status_code == 200  # fills the cache
    return api_client


@pytest.mark.django_db
def test_known_token_and_its_permissions_cost_no_query(api):
    with CaptureQueriesContext(connection) as queries:
        assert api.get(LOG_LIST).status_code == 200
    tables = ("authtoken_token", "auth_permission", "accounts_user")
    assert not [q["sql"] for q in queries.captured_queries if any(t in q["sql"] for t in tables)]


@pytest.mark.django_db
def test_a_browser_login_keeps_api_clients_cached(api, staff_user, client):
    """A login saves last_login: that changes no right, so cached token entries stay valid."""
    generation = cache.get(GENERATION_KEY)
    client.force_login(staff_user)
    staff_user.refresh_from_db()
    assert staff_user.last_login is not None
    assert cache.get(GENERATION_KEY) == generation
    with CaptureQueriesContext(connection) as queries:
        assert api.get(LOG_LIST).status_code == 200
    assert not [q["sql"] for q in queries.captured_queries if "authtoken_token" in q["sql"]]


@pytest.mark.django_db
def test_cache_entries_hold_plain_values_only(api, token):
    """Ids, fields and permission names: no pickled model instance, never the password hash."""
    generation, fields, permissions = cache.get(_entry_key(token.key))
    assert generation == cache.get(GENERATION_KEY)
    assert fields["id"] == token.user_id and "password" not in fields
    assert all(isinstance(v, str | int | bool | float | datetime | type(None)) for v in fields.values())
    assert "detection.view_detectionlog" in permissions and all(isinstance(p, str) for p in permissions)


@pytest.mark.django_db
def test_revoked_token_is_refused_at_once(api, token):
    token.delete()
    assert api.get(LOG_LIST).status_code == 401


@pytest.mark.django_db
def test_disabled_user_is_refused_at_once(api, staff_user):
    staff_user.is_active = False
    staff_user.save()
    assert api.get(LOG_LIST).status_code == 401


@pytest.mark.django_db
def test_role_and_group_changes_apply_at_once(api, staff_user):
    staff_user.groups.clear()
    assert api.get(LOG_LIST).status_code == 403
    set_role(staff_user, STAFF)
    assert api.get(LOG_LIST).status_code == 200
    view = Permission.objects.get(codename="view_detectionlog", content_type__app_label="detection")
    Group.objects.get(name=STAFF).permissions.remove(view)
    assert api.get(LOG_LIST).status_code == 403
    set_role(staff_user, ADMIN)
    assert api.get(LOG_LIST).status_code == 200


@pytest.mark.django_db
def test_unknown_token_is_refused(api_client, token):
    api_client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert api_client.get(LOG_LIST).status_code == 401


@pytest.mark.django_db
def test_without_a_cache_server_tokens_still_work(api_client, token):
    unreachable = {"default": {"BACKEND": "maskportal.cache.SharedPoolRedisCache", "LOCATION": "redis://127.0.0.1:1/0"}}
    with override_settings(CACHES=unreachable):
        api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        assert api_client.get(LOG_LIST).status_code == 200
        token.delete()
        assert api_client.get(LOG_LIST).status_code == 401
        assert api_client.get(reverse("api-schema")).status_code == 401
