"""Lawful basis and consent on every path into the registry, enforcement in recognition, withdrawal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from detection.models import (
    ConsentRecord,
    DetectedFace,
    DetectionLog,
    FaceImport,
    LawfulBasis,
    Person,
    PlatformSettings,
)
from detection.services import consent as consent_service
from detection.services import registry
from detection.services.consent import ConsentError, Declaration
from detection.services.enrolment import enrol
from detection.services.gallery import recognise
from detection.services.registry_import import run_import, start_zip_import
from detection.services.subjects import erase_due_people
from maskportal.celery import app
from tests.detection import registry_photos
from tests.detection.registry_photos import jpeg, other_face, zip_of
from tests.photos import face_photo

pytestmark = pytest.mark.django_db
media = registry_photos.media  # fixture

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def photo(name: str = "eileen.jpg", image=None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, jpeg(face_photo() if image is None else image), "image/jpeg")


def assert_declared(person: Person, user, basis: str) -> None:
    """The person's lawful basis, who recorded it and when are on record."""
    person.refresh_from_db()
    assert person.consent is not None, f"{person} has no consent record"
    assert person.consent.lawful_basis == basis
    assert person.consent.recorded_by == user
    assert abs((timezone.now() - person.consent.recorded_at).total_seconds()) < 120


def require_consent(on: bool) -> None:
    row = PlatformSettings.current()
    row.require_consent = on
    row.save()


# --- every creation path records the declaration ------------------------------------------------


def test_form_and_webcam_registration_record_basis_note_and_document(admin_client, admin_user, media):
    response = admin_client.post(
        reverse("detection:person_create"),
        {
            "display_name": "Eileen Collins",
            "lawful_basis": "consent",
            "consent_note": "Form 12 in the HR file",
            "consent_document": SimpleUploadedFile("form.pdf", PDF, "application/pdf"),
            "webcam_photos": [photo("webcam.jpg")],
        },
    )
    person = Person.objects.get(display_name="Eileen Collins")
    assert response.status_code == 302
    assert_declared(person, admin_user, "consent")
    assert person.consent.note == "Form 12 in the HR file"
    with person.consent.document.open("rb") as handle:
        assert handle.read() == PDF
    assert person.samples.get(synthetic_mask=False).source == "webcam"
    assert recognise(face_photo())[0].person == person


def test_form_without_a_basis_is_refused_while_consent_is_required(admin_client, media):
    response = admin_client.post(
        reverse("detection:person_create"), {"display_name": "Eileen Collins", "photos": [photo()]}
    )
    assert response.status_code == 200 and b"lawful basis" in response.content
    assert not Person.objects.exists()
    fake = admin_client.post(
        reverse("detection:person_create"),
        {
            "display_name": "Eileen Collins",
            "lawful_basis": "consent",
            "consent_document": SimpleUploadedFile("form.pdf", b"not a pdf", "application/pdf"),
        },
    )
    assert fake.status_code == 200 and b"not a valid PDF" in fake.content
    assert not Person.objects.exists() and not ConsentRecord.objects.exists()


def test_bulk_import_applies_one_declaration_to_all_its_people(admin_user, media):
    archive = zip_of({"Eileen_Collins/a.jpg": jpeg(face_photo()), "Grace_Hopper/g.jpg": jpeg(other_face())})
    upload = SimpleUploadedFile("team.zip", archive, "application/zip")
    with pytest.raises(ConsentError, match="lawful basis"):
        start_zip_import(admin_user, upload)
    job = start_zip_import(admin_user, upload, consent=Declaration("employment", "Works agreement 2024"))
    run_import(job.pk)  # the Celery task's body, in this process
    job.refresh_from_db()
    assert job.done == 2
    people = Person.objects.all()
    assert people.count() == 2 and {p.consent_id for p in people} == {job.consent_id}
    for person in people:
        assert_declared(person, admin_user, "employment")
    assert FaceImport.objects.get().consent.note == "Works agreement 2024"


def test_import_page_requires_the_declaration(admin_client, media):
    archive = SimpleUploadedFile("team.zip", zip_of({"A/a.jpg": jpeg(face_photo())}), "application/zip")
    response = admin_client.post(reverse("detection:person_import"), {"archive": archive})
    assert response.status_code == 200 and b"lawful basis" in response.content
    assert not FaceImport.objects.exists()


def detected_face() -> DetectedFace:
    from django.core.files.base import ContentFile

    log = DetectionLog.objects.create(source="upload", image_width=512, image_height=512)
    log.image.save("log.jpg", ContentFile(jpeg(face_photo())))
    return DetectedFace.objects.create(
        log=log, x1=180, y1=80, x2=280, y2=200, score=0.99, mask_label="without_mask", mask_probability=0.1
    )


def test_register_this_face_records_the_declaration(admin_client, admin_user, media):
    face = detected_face()
    url = reverse("detection:face_promote", args=[face.pk])
    refused = admin_client.post(url, {"display_name": "Eileen"})
    assert refused.status_code == 200 and b"lawful basis" in refused.content
    assert not Person.objects.exists()
    admin_client.post(url, {"display_name": "Eileen", "lawful_basis": "public_interest", "consent_note": "Site rules"})
    assert_declared(Person.objects.get(display_name="Eileen"), admin_user, "public_interest")


def test_api_creation_records_the_declaration(admin_token_client, admin_user):
    refused = admin_token_client.post("/api/v1/people/", {"display_name": "Eileen"}, format="json")
    assert refused.status_code == 400 and "lawful_basis" in refused.json()
    other = admin_token_client.post(
        "/api/v1/people/", {"display_name": "Eileen", "lawful_basis": "other"}, format="json"
    )
    assert other.status_code == 400 and "note" in str(other.json())
    created = admin_token_client.post(
        "/api/v1/people/", {"display_name": "Eileen", "lawful_basis": "consent", "consent_note": "ref 7"}, format="json"
    )
    assert created.status_code == 201, created.content
    assert created.json()["consent"]["lawful_basis"] == "consent"
    assert created.json()["consent"]["recorded_by"] == admin_user.username
    assert_declared(Person.objects.get(pk=created.json()["id"]), admin_user, "consent")


def test_with_the_setting_off_a_basis_is_optional(admin_token_client):
    require_consent(False)
    created = admin_token_client.post("/api/v1/people/", {"display_name": "Eileen"}, format="json")
    assert created.status_code == 201 and created.json()["consent"] is None


# --- recognition needs it; an Admin records it later --------------------------------------------


@pytest.fixture
def undeclared(media):
    """A person registered without a lawful basis (before it was recorded, or with the setting off)."""
    person = Person.objects.create(display_name="Eileen Collins")
    enrol(person, jpeg(face_photo()))
    return person


def test_a_person_without_consent_is_not_recognised_until_an_admin_records_it(admin_client, admin_user, undeclared):
    assert recognise(face_photo())[0].person is None
    page = admin_client.get(reverse("detection:person_detail", args=[undeclared.pk]))
    assert b"not recorded" in page.content and reverse("detection:person_consent", args=[undeclared.pk]).encode() in (
        page.content
    )
    bad = admin_client.post(reverse("detection:person_consent", args=[undeclared.pk]), {"consent_note": "x"})
    assert bad.status_code == 302 and Person.objects.get(pk=undeclared.pk).consent is None
    admin_client.post(
        reverse("detection:person_consent", args=[undeclared.pk]),
        {"lawful_basis": "consent", "consent_document": SimpleUploadedFile("scan.png", b"\x89PNG\r\n\x1a\n....")},
    )
    assert_declared(undeclared, admin_user, "consent")
    assert recognise(face_photo())[0].person == undeclared


def test_the_setting_decides_whether_people_without_consent_are_recognised(admin_client, undeclared):
    from tests.detection.test_registry import SETTINGS_FORM

    form = {**SETTINGS_FORM, "store_images": "downscaled", "image_retention_days": "30"}
    form.pop("require_consent")
    admin_client.post(reverse("detection:settings"), form)  # unticked
    assert not PlatformSettings.current().require_consent
    assert recognise(face_photo())[0].person == undeclared
    admin_client.post(reverse("detection:settings"), {**form, "require_consent": "on"})
    assert recognise(face_photo())[0].person is None


def test_api_records_consent_for_an_existing_person(admin_token_client, undeclared):
    response = admin_token_client.post(
        f"/api/v1/people/{undeclared.pk}/consent/", {"lawful_basis": "employment"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["consent"]["lawful_basis"] == "employment"
    assert recognise(face_photo())[0].person == undeclared


# --- withdrawal -------------------------------------------------------------------------------


@pytest.fixture
def eileen(media, admin_user):
    person = registry.create_person(display_name="Eileen Collins", consent=Declaration("consent"), user=admin_user)
    enrol(person, jpeg(face_photo()))
    return person


def test_withdrawal_deactivates_and_schedules_erasure_after_the_grace_period(admin_client, eileen, media):
    row = PlatformSettings.current()
    row.erasure_grace_days = 14
    row.save()
    assert recognise(face_photo())[0].person == eileen
    admin_client.post(reverse("detection:person_withdraw", args=[eileen.pk]), {"note": "Letter of 2 May"})
    eileen.refresh_from_db()
    assert not eileen.active and eileen.consent_withdrawn_at is not None
    assert eileen.erasure_due_at - eileen.consent_withdrawn_at == timedelta(days=14)
    assert recognise(face_photo())[0].person is None
    with pytest.raises(ConsentError, match="withdrew"):
        registry.set_active(eileen, True)
    assert erase_due_people(now=timezone.now() + timedelta(days=13)) == 0
    assert Person.objects.filter(pk=eileen.pk).exists()
    assert erase_due_people(now=timezone.now() + timedelta(days=15)) == 1
    assert not Person.objects.filter(pk=eileen.pk).exists()
    assert not any(media.rglob("*.jpg"))


def test_withdrawal_through_the_api_and_twice_is_refused(admin_token_client, eileen):
    first = admin_token_client.post(f"/api/v1/people/{eileen.pk}/withdraw/", {"note": "email"}, format="json")
    assert first.status_code == 200 and first.json()["erasure_due_at"]
    again = admin_token_client.post(f"/api/v1/people/{eileen.pk}/withdraw/", {}, format="json")
    assert again.status_code == 409 and "already withdrew" in again.json()["detail"]


def test_renewed_consent_lifts_the_withdrawal_and_replaces_the_old_record(eileen, admin_user):
    first = eileen.consent
    consent_service.withdraw_consent(eileen, user=admin_user)
    consent_service.record_consent(eileen, Declaration("consent", "Changed their mind"), user=admin_user)
    eileen.refresh_from_db()
    assert eileen.erasure_due_at is None and eileen.consent_withdrawn_at is None
    assert not ConsentRecord.objects.filter(pk=first.pk).exists()  # no orphan left for erasure to miss
    registry.set_active(eileen, True, user=admin_user)
    assert recognise(face_photo())[0].person == eileen


def test_erasure_and_audit_retention_run_on_the_beat_schedule():
    import detection.tasks  # noqa: F401  (what the worker's autodiscovery imports)

    tasks = dict(PeriodicTask.objects.values_list("task", "enabled"))
    for name in ("detection.tasks.erase_withdrawn_people", "detection.tasks.purge_old_audit_events"):
        assert tasks.get(name) is True, name
        assert name in app.tasks


def test_lawful_bases_are_labelled():
    assert dict(LawfulBasis.choices)["consent"] == "Explicit consent of the person"


def test_the_registry_lists_people_whose_basis_is_missing_or_withdrawn(admin_client, eileen, undeclared):
    missing = admin_client.get(reverse("detection:person_list"), {"consent": "missing"})
    assert list(missing.context["object_list"]) == [undeclared]
    consent_service.withdraw_consent(eileen)
    withdrawn = admin_client.get(reverse("detection:person_list"), {"consent": "withdrawn"})
    assert list(withdrawn.context["object_list"]) == [eileen]
