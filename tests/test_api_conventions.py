"""API conventions: one router serves every app's resources under /api/v1/, and the version is
explicit: a client that asks for another version is refused instead of silently served v1."""

import pytest
from rest_framework.authtoken.models import Token

RESOURCES = {"detections", "batches", "people", "cameras", "models", "training-jobs"}


@pytest.fixture
def api(api_client, admin_user):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=admin_user).key}")
    return api_client


@pytest.mark.django_db
def test_one_router_lists_every_resource(api):
    root = api.get("/api/v1/")
    assert root.status_code == 200
    assert set(root.json()) >= RESOURCES


@pytest.mark.django_db
def test_the_version_is_explicit(api):
    assert api.get("/api/v1/stats/", HTTP_ACCEPT="application/json; version=1").status_code == 200
    refused = api.get("/api/v1/stats/", HTTP_ACCEPT="application/json; version=2")
    assert refused.status_code == 406 and "version" in refused.json()["detail"].lower()


@pytest.mark.django_db
def test_the_schema_covers_every_app(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/v1/analyze/", "/api/v1/training-jobs/", "/api/v1/people/"} <= set(paths)
