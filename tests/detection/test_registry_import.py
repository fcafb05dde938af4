"""Bulk import through a real Celery worker: a ZIP with good photos, a bad file and a stray file."""

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from detection.models import FaceImport, Person
from detection.services.consent import Declaration
from detection.services.registry_import import ImportRefused, start_folder_import
from tests.detection.registry_photos import blurred_face, jpeg, other_face, zip_of
from tests.photos import face_photo


def wait_finished(job: FaceImport, worker, timeout: float = 180) -> FaceImport:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status in (FaceImport.Status.SUCCEEDED, FaceImport.Status.FAILED):
            return job
        time.sleep(0.5)
    raise AssertionError(f"import still {job.status}\n{worker.output()}")


def test_zip_import_through_celery_reports_every_file(celery_worker, admin_client):
    archive = zip_of(
        {
            "Eileen_Collins/portrait.jpg": jpeg(face_photo()),
            "Eileen_Collins/broken.jpg": b"\xff\xd8\xff this is not really a JPEG",
            "Eileen_Collins/blurred.jpg": jpeg(blurred_face()),
            "Grace_Hopper/grace.jpg": jpeg(other_face()),
            "Nobody_Clear/blurred.jpg": jpeg(blurred_face()),
            "readme.txt": b"photos of the team",
        }
    )
    response = admin_client.post(
        reverse("detection:person_import"),
        {
            "archive": SimpleUploadedFile("team.zip", archive, "application/zip"),
            "lawful_basis": "employment",
            "consent_note": "Staff badge photos, works agreement of 2024",
        },
    )
    assert response.status_code == 302, response.content
    job = wait_finished(FaceImport.objects.get(), celery_worker)
    assert job.status == FaceImport.Status.SUCCEEDED, job.error
    assert (job.total, job.done, job.failed) == (6, 2, 4)
    report = {row["file"]: row for row in job.report}
    assert report["Eileen_Collins/portrait.jpg"]["status"] == "accepted"
    assert report["Grace_Hopper/grace.jpg"]["person"] == "Grace Hopper"
    assert (
        "damaged" in report["Eileen_Collins/broken.jpg"]["reason"]
        or "not a recognised image" in (report["Eileen_Collins/broken.jpg"]["reason"])
    )
    assert "blurred" in report["Eileen_Collins/blurred.jpg"]["reason"]
    assert "person's folder" in report["readme.txt"]["reason"]
    # people exist only when a photo of them was accepted
    assert sorted(Person.objects.values_list("display_name", flat=True)) == ["Eileen Collins", "Grace Hopper"]
    # one declaration, made when the import started, covers everyone it registered
    assert job.consent is not None and job.consent.lawful_basis == "employment"
    assert set(Person.objects.values_list("consent", flat=True)) == {job.consent.pk}
    assert not job.archive  # the uploaded archive is not kept
    page = admin_client.get(reverse("detection:person_import_detail", args=[job.pk]))
    assert b"readme.txt" in page.content and b"accepted" in page.content


@pytest.mark.django_db
def test_folder_import_stays_inside_the_import_root(admin_user, settings, tmp_path):
    settings.REGISTRY_IMPORT_ROOT = tmp_path
    with pytest.raises(ImportRefused, match="below"):
        start_folder_import(admin_user, "../../etc", consent=Declaration("consent"))
    with pytest.raises(ImportRefused, match="not a folder"):
        start_folder_import(admin_user, "missing", consent=Declaration("consent"))


@pytest.mark.django_db
def test_a_non_zip_upload_is_refused(admin_client):
    response = admin_client.post(
        reverse("detection:person_import"),
        {"archive": SimpleUploadedFile("x.zip", b"not a zip"), "lawful_basis": "consent"},
    )
    assert response.status_code == 200 and b"not a ZIP archive" in response.content
    assert not FaceImport.objects.exists()
