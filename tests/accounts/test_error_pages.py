"""What people see when a page is not for them: the login page for logged-out visitors (with
`next`), a styled 403 with navigation and a reason for signed-in users without the role, styled
404 and 500 pages without internals; the API keeps answering JSON."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import override_settings

from tests.accounts.test_auth_required import _endpoints

PAGES = [p for p in _endpoints() if not p.values[0].startswith(("/api/v1/", "/api/schema/", "/admin/"))]


@pytest.mark.django_db
@pytest.mark.parametrize("url", PAGES)
def test_anonymous_page_requests_go_to_the_login_page_with_next(client, url):
    response = client.get(url)
    assert response.status_code == 302, f"{url} answered {response.status_code}"
    location = urlsplit(response["Location"])
    assert location.path == "/accounts/login/"
    assert parse_qs(location.query)["next"] == [url]


@pytest.mark.django_db
def test_the_login_page_says_why_the_visitor_is_there(client):
    response = client.get("/accounts/login/?next=/detections/")
    assert 'name="next" value="/detections/"' in response.content.decode()
    assert "Log in to open that page." in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/v1/detections/", "/api/v1/stats/", "/api/schema/"])
def test_the_api_keeps_answering_json_to_anonymous_clients(client, url):
    response = client.get(url, HTTP_ACCEPT="application/json")
    assert response.status_code in (401, 403)
    assert response["Content-Type"].startswith("application/") and "detail" in response.json()


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/accounts/users/", "/settings/", "/people/", "/training/jobs/new/"])
def test_staff_on_an_admin_page_get_a_styled_403_with_navigation_and_a_reason(staff_client, staff_user, url):
    response = staff_client.get(url)
    assert response.status_code == 403
    html = response.content.decode()
    assert 'class="navbar' in html and 'href="/detections/"' in html  # the way on
    assert "needs the Admin role" in html
    assert f"signed in as <strong>{staff_user.username}</strong> with the Staff role" in html


@pytest.mark.django_db
def test_a_missing_page_is_a_styled_404_with_navigation(staff_client):
    response = staff_client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found" in html and 'class="navbar' in html
    assert "URLconf" not in html and "no-such-page" not in html


@pytest.mark.django_db
@override_settings(ROOT_URLCONF="tests.security.failing_urls", DEBUG=False)
def test_a_server_error_is_a_styled_500_without_internals(staff_client):
    staff_client.raise_request_exception = False
    response = staff_client.get("/fail/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong" in html and "logged for the administrator" in html
    assert "Traceback" not in html and "ZeroDivisionError" not in html and "division by zero" not in html
