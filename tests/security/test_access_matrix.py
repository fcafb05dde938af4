"""The access matrix of docs/security.md, enforced: every URL pattern and API route is walked as
anonymous, a signed-in user without a role, Staff and Admin.

Each route is listed below with the least role that may read it (GET) and write to it (POST). A
role below that is refused (401/403, or sent to a login page) for both methods; a role at or
above it is not refused on GET (POSTs of allowed roles are left out: they would change data).
A route missing from the matrix fails the walk, so every new page or endpoint gets a decision.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.test import Client
from rest_framework.authtoken.models import Token

from detection.models import DetectedFace, DetectionLog, FaceSample, Person
from tests.accounts.test_auth_required import concrete, walk
from tests.factories import AdminFactory, UserFactory

ANONYMOUS, NO_ROLE, STAFF, ADMIN = range(4)
RANK = {"anonymous": ANONYMOUS, "no role": NO_ROLE, "Staff": STAFF, "Admin": ADMIN}

_STAFF = (STAFF, STAFF)
_ADMIN = (ADMIN, ADMIN)
_SIGNED_IN = (NO_ROLE, NO_ROLE)

#: url name -> (least role to read, least role to write). Django admin's pages are all Admin-only.
MATRIX: dict[str, tuple[int, int]] = {
    "accounts:login": (ANONYMOUS, ANONYMOUS),
    "accounts:logout": (ANONYMOUS, ANONYMOUS),
    "accounts:password_change": _SIGNED_IN,
    "accounts:profile": _SIGNED_IN,
    "dashboard": _SIGNED_IN,
    "api-root": _SIGNED_IN,
    "api-schema": _SIGNED_IN,
    "api-docs": _SIGNED_IN,
    "favicon": (ANONYMOUS, ANONYMOUS),
    # detections: Staff analyse, review (names included) and export them
    "detection:upload": _STAFF,
    "detection:log_list": _STAFF,
    "detection:log_export": _STAFF,
    "detection:log_detail": _STAFF,
    "detection:log_image": _STAFF,
    "detection:face_crop": _STAFF,
    "detection:face_review": _STAFF,
    "detection:log_review": _STAFF,
    "detection:batch_list": _STAFF,
    "detection:batch_detail": _STAFF,
    "detection:batch_cancel": _STAFF,
    "detection:batch_retry": _STAFF,
    "detection:live": _STAFF,
    "detection:camera_list": _STAFF,  # watching; the configuration columns are the Admin's
    "detection:camera_detail": _STAFF,
    "api-analyze": _STAFF,
    "api-stats": _STAFF,
    "api-recognize": _STAFF,
    "detectionlog-list": _STAFF,
    "detectionlog-detail": _STAFF,
    "batchjob-list": _STAFF,
    "batchjob-detail": _STAFF,
    "batchjob-progress": _STAFF,
    "batchjob-cancel": _STAFF,
    "batchjob-retry": _STAFF,
    # the registry (people, codes, notes, consent, enrolment photos): Admin only, pages and API alike
    "detection:person_list": _ADMIN,
    "detection:person_create": _ADMIN,
    "detection:person_import": _ADMIN,
    "detection:person_import_detail": _ADMIN,
    "detection:person_detail": _ADMIN,
    "detection:person_deactivate": _ADMIN,
    "detection:person_delete": _ADMIN,
    "detection:sample_image": _ADMIN,
    "detection:sample_delete": _ADMIN,
    "detection:face_promote": _ADMIN,
    "detection:person_import_retry": _ADMIN,
    "detection:person_edit": _ADMIN,
    "detection:person_consent": _ADMIN,
    "detection:person_consent_document": _ADMIN,
    "detection:person_withdraw": _ADMIN,
    "detection:person_export": _ADMIN,
    "person-consent": _ADMIN,
    "person-withdraw": _ADMIN,
    "person-export": _ADMIN,
    "person-list": _ADMIN,
    "person-detail": _ADMIN,
    "person-faces": _ADMIN,
    "person-delete-face": _ADMIN,
    # camera configuration, webhooks, settings, users, audit: Admin only
    "detection:camera_create": _ADMIN,
    "detection:camera_update": _ADMIN,
    "detection:camera_delete": _ADMIN,
    "detection:webhook_list": _ADMIN,
    "detection:webhook_create": _ADMIN,
    "detection:webhook_update": _ADMIN,
    "detection:webhook_delete": _ADMIN,
    "detection:webhook_test": _ADMIN,
    "detection:settings": _ADMIN,
    "camera-list": _ADMIN,
    "camera-detail": _ADMIN,
    "accounts:user_list": _ADMIN,
    "accounts:user_create": _ADMIN,
    "accounts:user_detail": _ADMIN,
    "accounts:audit": _ADMIN,
    # classifier versions and training: Staff read, Admins act; the training pool is the Admin's
    "training:model_list": _STAFF,
    "training:model_detail": _STAFF,
    "training:model_activate": _ADMIN,
    "training:model_retire": _ADMIN,
    "training:job_list": _STAFF,
    "training:job_detail": _STAFF,
    "training:job_create": _ADMIN,
    "training:job_cancel": _ADMIN,
    "training:pool": _ADMIN,
    "training:pool_image": _ADMIN,
    "training:retrain_settings": _ADMIN,
    "modelversion-list": _STAFF,
    "modelversion-detail": _STAFF,
    "modelversion-activate": (STAFF, ADMIN),
    "modelversion-retire": (STAFF, ADMIN),
    "trainingjob-list": (STAFF, ADMIN),
    "trainingjob-detail": _STAFF,
    "trainingjob-cancel": (STAFF, ADMIN),
}
PUBLIC_ADMIN_SITE = {"admin:login": (ANONYMOUS, ANONYMOUS), "admin:logout": (ANONYMOUS, ANONYMOUS)}


def required(name: str | None, url: str) -> tuple[int, int] | None:
    if url.startswith("/admin/"):
        return PUBLIC_ADMIN_SITE.get(name or "", _ADMIN)
    return MATRIX.get(name or "")


def routes() -> list:
    """One concrete URL per route (the API's `.json` format twins included)."""
    out, seen = [], set()
    for name, route in walk():
        url = concrete(route)
        if url is None or url in seen or url.startswith("/static/"):
            continue
        seen.add(url)
        out.append(pytest.param(name, url, id=f"{name or '-'} {url}"))
    return out


def refused(response) -> bool:
    if response.status_code in (301, 302):
        return "/login/" in response["Location"]
    return response.status_code in (401, 403)


def client_as(role: str) -> Client:
    """A session client for `role`; the no-role user is signed in but in no group."""
    client = Client()
    users = {
        "no role": lambda: get_user_model().objects.create_user("norole", password="pw-norole-123"),
        "Staff": UserFactory,
        "Admin": AdminFactory,
    }
    if role in users:
        client.force_login(users[role]())
    return client


def test_every_route_has_a_decision():
    undecided = [p.values[1] for p in routes() if required(*p.values) is None]
    assert not undecided, f"routes missing from the access matrix: {undecided}"


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(RANK))
def test_every_route_follows_the_matrix(role):
    """GET every route (and POST where the role may not write) as `role`; list every mismatch."""
    client, rank, wrong = client_as(role), RANK[role], []
    for param in routes():
        name, url = param.values
        read, write = required(name, url) or (ADMIN + 1, ADMIN + 1)
        if url.startswith("/admin/") and read == ADMIN and rank == ADMIN:
            continue  # past the admin site's gate, each ModelAdmin's own rules answer (some pages are read-only)
        got = client.get(url)
        if refused(got) != (rank < read):
            wrong.append(f"GET {url} {got.status_code} (least role {read})")
        if rank < write:
            posted = client.post(url)
            if not refused(posted):
                wrong.append(f"POST {url} {posted.status_code} (least role to write {write})")
    assert not wrong, f"{role}: " + "; ".join(wrong)


def test_the_walk_covers_the_api_detail_routes():
    urls = {p.values[1] for p in routes()}
    assert {"/api/v1/people/1/", "/api/v1/people/1/faces/", "/api/v1/cameras/1/", "/api/v1/batches/1/retry/"} <= urls


# --- what Staff see of a detection: names to review, nothing of the registry ---------------------
@pytest.fixture
def named_detection(db):
    person = Person.objects.create(display_name="Grace Hopper", employee_code="EMP-7781", notes="night shift")
    log = DetectionLog.objects.create(source=DetectionLog.Source.UPLOAD, face_count=1)
    face = DetectedFace.objects.create(
        log=log, x1=1, y1=1, x2=20, y2=20, score=0.9, mask_label="without_mask", mask_probability=0.1, person=person
    )
    return log, face, person


def test_staff_see_the_name_on_a_detection_but_not_the_registry(staff_user, staff_client, named_detection):
    log, _, person = named_detection
    page = staff_client.get(f"/detections/{log.pk}/").content.decode()
    assert "Grace Hopper" in page
    assert "EMP-7781" not in page and "night shift" not in page
    api = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=staff_user).key}")
    body = api.get(f"/api/v1/detections/{log.pk}/").content.decode()
    assert "Grace Hopper" in body and "EMP-7781" not in body and "night shift" not in body
    for url in (f"/people/{person.pk}/", f"/api/v1/people/{person.pk}/", f"/api/v1/people/{person.pk}/faces/"):
        assert refused(staff_client.get(url)), url


def test_staff_cannot_open_an_enrolment_photo(staff_client, admin_user, named_detection, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    _, _, person = named_detection
    sample = FaceSample.objects.create(person=person, embedding=b"\0" * 16, embedding_model="test")
    sample.crop.save("crop.jpg", ContentFile(b"\xff\xd8\xff not really a jpeg"))
    assert refused(staff_client.get(f"/samples/{sample.pk}/image.jpg"))
    staff_client.force_login(admin_user)
    assert staff_client.get(f"/samples/{sample.pk}/image.jpg").status_code == 200
