import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token

from accounts.models import AuditEvent, User
from accounts.roles import ADMIN, STAFF, role_of
from tests.factories import PASSWORD, UserFactory

ADMIN_PAGES = ["accounts:user_list", "accounts:user_create", "accounts:audit"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", ADMIN_PAGES)
def test_staff_cannot_reach_admin_pages(staff_client, name):
    assert staff_client.get(reverse(name)).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("name", ADMIN_PAGES)
def test_admin_reaches_admin_pages(admin_client, name):
    assert admin_client.get(reverse(name)).status_code == 200


@pytest.mark.django_db
def test_admin_lands_on_dashboard_and_user_list(client, admin_user):
    response = client.post(reverse("accounts:login"), {"username": admin_user.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    page = client.get(reverse("dashboard"))
    assert page.status_code == 200 and b"Dashboard" in page.content
    users = client.get(reverse("accounts:user_list"))
    assert admin_user.username.encode() in users.content


@pytest.mark.django_db
def test_every_navigation_link_works(admin_client):
    page = admin_client.get(reverse("dashboard")).content.decode()
    import re

    links = set(re.findall(r'class="(?:nav-link|dropdown-item)[^"]*" href="([^"#]+)"', page))
    assert links, "no navigation rendered"
    for link in links:
        assert admin_client.get(link).status_code == 200, link


@pytest.mark.django_db
def test_token_auth_and_revocation(client, staff_user, api_client):
    client.force_login(staff_user)
    client.post(reverse("accounts:profile"), {"action": "create_token"})
    key = Token.objects.get(user=staff_user).key
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api_client.get(reverse("api-schema")).status_code == 200
    client.post(reverse("accounts:profile"), {"action": "revoke_token"})
    assert api_client.get(reverse("api-schema")).status_code == 401
    kinds = list(AuditEvent.objects.filter(target=staff_user).values_list("kind", flat=True))
    assert AuditEvent.Kind.TOKEN_CREATED in kinds and AuditEvent.Kind.TOKEN_REVOKED in kinds


@pytest.mark.django_db
def test_admin_creates_disables_and_promotes_users_with_audit(admin_client, admin_user):
    response = admin_client.post(
        reverse("accounts:user_create"), {"username": "nurse", "email": "n@example.org", "role": STAFF}
    )
    assert response.status_code == 302
    nurse = User.objects.get(username="nurse")
    assert role_of(nurse) == STAFF and nurse.has_usable_password()
    url = reverse("accounts:user_detail", args=[nurse.pk])
    admin_client.post(url, {"action": "role", "role": ADMIN})
    admin_client.post(url, {"action": "disable"})
    nurse.refresh_from_db()
    assert role_of(nurse) == ADMIN and not nurse.is_active
    kinds = set(AuditEvent.objects.filter(target=nurse, actor=admin_user).values_list("kind", flat=True))
    assert {"user_created", "role_changed", "user_disabled"} <= kinds


@pytest.mark.django_db
def test_duplicate_username_is_a_clear_error(admin_client, staff_user):
    response = admin_client.post(reverse("accounts:user_create"), {"username": staff_user.username, "role": STAFF})
    assert response.status_code == 400 and b"already exists" in response.content


@pytest.mark.django_db
def test_login_logout_and_failed_login_are_audited(client):
    user = UserFactory()
    client.post(reverse("accounts:login"), {"username": user.username, "password": "wrong"})
    client.post(reverse("accounts:login"), {"username": user.username, "password": PASSWORD})
    client.post(reverse("accounts:logout"))
    kinds = list(AuditEvent.objects.filter(username=user.username).values_list("kind", flat=True))
    assert {"login_failed", "login", "logout"} <= set(kinds)


@pytest.mark.django_db
def test_disabled_user_cannot_log_in(client):
    user = UserFactory(is_active=False)
    client.post(reverse("accounts:login"), {"username": user.username, "password": PASSWORD})
    assert client.get(reverse("dashboard")).status_code == 302
