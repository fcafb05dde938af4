"""People: edit a person, never "recognised" without a usable photo, and bulk-import reports that
count in the status, name people consistently and retry photos of several faces without a new upload."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from detection.models import FaceImport, FaceSample, Person
from detection.services.consent import Declaration, new_record
from detection.services.registry_import import run_import, start_zip_import
from tests.detection import registry_photos
from tests.detection.registry_photos import jpeg, other_face, two_faces, zip_of

media = registry_photos.media  # fixture

pytestmark = pytest.mark.django_db


def test_edit_name_code_and_notes(admin_client):
    person = Person.objects.create(display_name="Jo Smith", employee_code="E1")
    Person.objects.create(display_name="Taken", employee_code="E2")
    url = reverse("detection:person_edit", args=[person.pk])
    assert (
        reverse("detection:person_edit", args=[person.pk])
        in admin_client.get(reverse("detection:person_detail", args=[person.pk])).content.decode()
    )
    response = admin_client.post(url, {"display_name": "  Joanna Smith ", "employee_code": "E7", "notes": "night"})
    assert response.status_code == 302
    person.refresh_from_db()
    assert (person.display_name, person.employee_code, person.notes) == ("Joanna Smith", "E7", "night")
    refused = admin_client.post(url, {"display_name": "Joanna Smith", "employee_code": "E2", "notes": ""})
    assert refused.status_code == 200 and "already exists" in refused.content.decode()
    assert Person.objects.get(pk=person.pk).employee_code == "E7"  # nothing half-written
    admin_client.post(url, {"display_name": "Joanna Smith", "employee_code": " ", "notes": ""})
    assert Person.objects.get(pk=person.pk).employee_code is None  # blank codes never collide


def test_edit_needs_the_registry_permission(staff_client):
    person = Person.objects.create(display_name="Jo")
    assert staff_client.post(reverse("detection:person_edit", args=[person.pk]), {"display_name": "X"}).status_code in (
        302,
        403,
    )
    assert Person.objects.get(pk=person.pk).display_name == "Jo"


def test_a_person_without_a_photo_is_never_shown_recognised(admin_client, admin_user):
    consent = new_record(Declaration("consent"), user=admin_user)
    bare = Person.objects.create(display_name="No Photo", consent=consent)
    pictured = Person.objects.create(display_name="Has Photo", consent=consent)
    FaceSample.objects.create(person=pictured, embedding=b"\0" * 8, embedding_model="test")
    listing = admin_client.get(reverse("detection:person_list")).content.decode()
    rows = {name: listing.split(name, 1)[1].split("</tr>", 1)[0] for name in ("No Photo", "Has Photo")}
    assert "not recognised: no photo" in rows["No Photo"] and ">recognised<" not in rows["No Photo"]
    assert ">recognised<" in rows["Has Photo"]
    detail = admin_client.get(reverse("detection:person_detail", args=[bare.pk])).content.decode()
    assert "not recognised: no photo" in detail and ">recognised<" not in detail


def test_import_report_counts_names_and_retries_with_the_largest_face(admin_user, admin_client, media):
    archive = zip_of(
        {
            "Grace_Hopper/grace.jpg": jpeg(other_face()),
            "Eileen_Collins/group.jpg": jpeg(two_faces()),
            "Grace_Hopper/broken.jpg": b"\xff\xd8\xff not a JPEG",
        }
    )
    job = start_zip_import(
        admin_user, SimpleUploadedFile("team.zip", archive, "application/zip"), consent=Declaration("consent")
    )
    run_import(job.pk)
    job.refresh_from_db()
    assert job.outcome == "Succeeded: accepted 1, rejected 2"
    report = {row["file"]: row for row in job.report}
    assert report["Grace_Hopper/broken.jpg"]["person"] == "Grace Hopper"  # as the registry names people
    assert report["Eileen_Collins/group.jpg"]["code"] == "several_faces"
    assert job.archive  # kept: a photo can be retried without uploading again
    page = admin_client.get(reverse("detection:person_import_detail", args=[job.pk])).content.decode()
    assert "Succeeded: accepted 1, rejected 2" in page and 'id="import-retry-largest"' in page

    response = admin_client.post(reverse("detection:person_import_retry", args=[job.pk]), {"action": "retry"})
    retry = FaceImport.objects.get(retry_of=job)
    assert response.status_code == 302 and response["Location"].endswith(f"/people/import/{retry.pk}/")
    run_import(retry.pk)  # the worker's task, in process
    retry.refresh_from_db()
    assert retry.allow_largest and [row["file"] for row in retry.report] == ["Eileen_Collins/group.jpg"]
    assert retry.outcome == "Succeeded: accepted 1, rejected 0"
    assert Person.objects.get(display_name="Eileen Collins").samples.filter(synthetic_mask=False).count() == 1
    assert not retry.archive and not FaceImport.objects.get(pk=job.pk).archive  # the archive is gone
    again = admin_client.post(reverse("detection:person_import_retry", args=[job.pk]), {"action": "retry"})
    assert again.status_code == 302 and FaceImport.objects.filter(retry_of=job).count() == 1


def test_an_import_without_retryable_photos_keeps_no_archive(admin_user, media):
    archive = zip_of({"Grace_Hopper/grace.jpg": jpeg(other_face()), "Grace_Hopper/x.jpg": b"\xff\xd8\xff no"})
    job = start_zip_import(
        admin_user, SimpleUploadedFile("g.zip", archive, "application/zip"), consent=Declaration("consent")
    )
    run_import(job.pk)
    job.refresh_from_db()
    assert job.outcome == "Succeeded: accepted 1, rejected 1" and not job.archive
