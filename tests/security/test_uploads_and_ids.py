"""Ids from requests are validated (never a 500), one upload size check serves every upload path,
and the registry's ZIP import reports every member, unsafe paths included."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from detection.models import BatchItem, BatchJob, FaceImport, FaceSample, Person
from detection.services.consent import Declaration
from detection.services.registry_import import run_import, start_zip_import
from tests.detection.registry_photos import jpeg, zip_of
from tests.factories import AdminFactory
from tests.photos import face_photo
from tests.security.test_access_matrix import routes

HUGE_ID = "99999999999999999999"  # beyond a 64-bit integer: OverflowError in the database driver


# --- ids ------------------------------------------------------------------------------------------
def test_retrying_a_batch_with_an_absurd_item_id_is_a_clear_refusal(staff_user, staff_client):
    batch = BatchJob.objects.create(owner=staff_user, status=BatchJob.Status.FAILED, total=1, failed=1)
    item = BatchItem.objects.create(batch=batch, name="a.jpg", status=BatchItem.Status.FAILED)
    for bad in (HUGE_ID, "-1", "abc", str(item.pk + 1000)):
        response = staff_client.post(f"/batches/{batch.pk}/retry/", {"item": bad}, follow=True)
        assert response.status_code == 200, bad
        assert "choose items of this batch" in response.content.decode(), bad
    item.refresh_from_db()
    assert item.status == BatchItem.Status.FAILED  # nothing was retried


@pytest.mark.django_db
def test_no_route_answers_an_absurd_id_with_a_server_error():
    """Every route with an id, pages and API, given an id past 64 bits: a 4xx or a redirect, never 500."""
    client = Client(raise_request_exception=False)
    client.force_login(AdminFactory())
    errors = []
    for param in routes():
        url = param.values[1]
        if "/1/" not in url and not url.endswith("/1") or url.startswith("/admin/"):
            continue
        url = url.replace("/1/", f"/{HUGE_ID}/").replace("/1", f"/{HUGE_ID}")
        for method in (client.get, client.post):
            status = method(url).status_code
            if status >= 500:
                errors.append(f"{method.__name__.upper()} {url} {status}")
    assert not errors, errors


# --- one upload size check ----------------------------------------------------------------------
@pytest.fixture
def small_limit(settings):
    settings.MAX_UPLOAD_BYTES = 2000
    return jpeg(face_photo())  # a real photo, larger than the limit


def test_the_registry_photo_page_refuses_an_oversize_photo_before_decoding_it(admin_client, small_limit):
    person = Person.objects.create(display_name="Ada")
    photo = SimpleUploadedFile("big.jpg", small_limit, "image/jpeg")
    page = admin_client.post(f"/people/{person.pk}/", {"photos": photo}, follow=True).content.decode()
    assert "big.jpg: the file is too large" in page
    assert not FaceSample.objects.filter(person=person).exists()


def test_every_upload_path_gives_the_same_size_refusal(admin_client, admin_token_client, small_limit):
    person = Person.objects.create(display_name="Ada")
    big = lambda name: SimpleUploadedFile(name, small_limit, "image/jpeg")  # noqa: E731
    answers = {
        "analyse API": admin_token_client.post("/api/v1/analyze/", {"image": big("a.jpg")}, format="multipart"),
        "recognise API": admin_token_client.post("/api/v1/recognize/", {"file": big("r.jpg")}, format="multipart"),
        "registry API": admin_token_client.post(
            f"/api/v1/people/{person.pk}/faces/", {"file": big("f.jpg")}, format="multipart"
        ),
    }
    for path, response in answers.items():
        assert response.status_code == 400, path
        assert "the file is too large" in response.content.decode(), path
    page = admin_client.post(f"/people/{person.pk}/", {"photos": big("p.jpg")}, follow=True).content.decode()
    assert "the file is too large" in page
    assert not FaceSample.objects.exists()


# --- ZIP import report ----------------------------------------------------------------------------
def test_the_zip_import_reports_every_member_including_unsafe_paths(admin_user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    archive = zip_of(
        {
            "Ada_Lovelace/ada.jpg": b"not a photo",
            "../evil.jpg": jpeg(face_photo()),
            "Ada_Lovelace/../../escape.jpg": jpeg(face_photo()),
            "__MACOSX/Ada_Lovelace/._ada.jpg": b"resource fork",
        }
    )
    upload = SimpleUploadedFile("team.zip", archive, "application/zip")
    job = start_zip_import(admin_user, upload, consent=Declaration("employment", "badge photos"))
    run_import(job.pk)
    job = FaceImport.objects.get(pk=job.pk)
    report = {row["file"]: row for row in job.report}
    assert set(report) == {
        "Ada_Lovelace/ada.jpg",
        "../evil.jpg",
        "Ada_Lovelace/../../escape.jpg",
        "__MACOSX/Ada_Lovelace/._ada.jpg",
    }
    for unsafe in ("../evil.jpg", "Ada_Lovelace/../../escape.jpg"):
        assert report[unsafe]["status"] == "rejected"
        assert report[unsafe]["reason"].startswith("unsafe path"), report[unsafe]
    assert report["__MACOSX/Ada_Lovelace/._ada.jpg"]["status"] == "skipped"
    assert not Person.objects.exclude(display_name="Ada Lovelace").exists()  # no person named ".."
