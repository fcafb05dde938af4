"""Every API permission is a model permission, reads included, through one permission class."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import resolve
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

import accounts.permissions
from accounts.permissions import ModelPermissions
from detection.models import Camera, Person
from tests.security.test_access_matrix import routes


@pytest.fixture
def no_role_client(db) -> APIClient:
    user = get_user_model().objects.create_user("visitor", password="visitor-pass-123")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_a_user_without_a_role_reads_nothing_of_the_registry_or_cameras(no_role_client):
    person = Person.objects.create(display_name="Ada Lovelace", employee_code="E-1")
    camera = Camera.objects.create(name="Gate")
    for url in (
        "/api/v1/people/",
        f"/api/v1/people/{person.pk}/",
        f"/api/v1/people/{person.pk}/faces/",
        "/api/v1/cameras/",
        f"/api/v1/cameras/{camera.pk}/",
        "/api/v1/detections/",
        "/api/v1/stats/",
        "/api/v1/batches/",
        "/api/v1/models/",
        "/api/v1/training-jobs/",
    ):
        response = no_role_client.get(url)
        assert response.status_code == 403, url
        assert "Ada" not in response.content.decode() and "Gate" not in response.content.decode()


def _api_views():
    seen = {}
    for param in routes():
        url = param.values[1]
        if url.startswith("/api/v1/"):
            view = resolve(url).func
            cls = getattr(view, "cls", None) or getattr(view, "view_class", None)
            seen[cls.__name__] = (cls, getattr(view, "actions", None) or {})
    return seen.values()


def test_one_permission_class_guards_every_api_view():
    for cls, actions in _api_views():
        assert list(cls.permission_classes) == [ModelPermissions], cls
        for name in set(actions.values()):
            extra = getattr(getattr(cls, name), "kwargs", {}).get("permission_classes")
            assert extra in (None, [ModelPermissions]), f"{cls.__name__}.{name} has its own permission classes"
    assert not hasattr(accounts.permissions, "IsAdminOrReadOnly") and not hasattr(accounts.permissions, "IsAdminRole")


def test_a_view_that_names_no_permission_is_closed():
    """Fail closed: a new endpoint with neither a model nor named permissions refuses everyone."""
    from rest_framework.views import APIView

    class Unnamed(APIView):
        def get(self, request):
            return None

    request = type("Request", (), {"user": get_user_model()(is_superuser=True), "method": "GET"})()
    assert ModelPermissions().has_permission(request, Unnamed()) is False
