"""Registry services, pages and API on real photos: enrol, recognise, unknown, erase, permissions."""

from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from detection.models import DetectedFace, DetectionLog, FaceSample, Person, PlatformSettings
from detection.services import registry, subjects
from detection.services.consent import Declaration
from detection.services.engine import GALLERY_VERSION_KEY, current_versions, pipeline
from detection.services.enrolment import enrol
from detection.services.gallery import build_gallery, recognise
from tests.detection import registry_photos
from tests.detection.registry_photos import jpeg, other_face
from tests.factories import PersonFactory
from tests.photos import face_photo, masked_face_photo

pytestmark = pytest.mark.django_db
media = registry_photos.media  # fixture


@pytest.fixture
def eileen(media):
    person = PersonFactory(display_name="Eileen Collins")
    enrol(person, jpeg(face_photo()))
    return person


def stored_files(root) -> list[Path]:
    return [p for p in Path(root).rglob("*") if p.is_file()] if Path(root).exists() else []


# --- services -------------------------------------------------------------------------------


def test_enrolled_person_is_recognised_bare_and_masked_and_a_stranger_is_unknown(eileen):
    [face] = recognise(face_photo())
    assert face.person == eileen and face.distance < 0.1
    [masked] = recognise(masked_face_photo("cloth"))
    assert masked.person == eileen
    [stranger] = recognise(other_face())
    assert stranger.person is None and stranger.distance is not None


def test_gallery_holds_the_photo_and_one_pooled_variant_row(eileen):
    assert FaceSample.objects.filter(person=eileen).count() == 5  # the photo and its 4 masked variants
    gallery = build_gallery(pipeline())
    assert len(gallery) == 2 and gallery.names == [str(eileen.pk)]


def test_every_change_bumps_the_gallery_version(eileen):
    before = current_versions()[0]
    registry.set_active(eileen, False)
    assert current_versions()[0] == before + 1
    assert recognise(face_photo())[0].person is None  # deactivated: no longer recognised
    registry.set_active(eileen, True)
    assert recognise(face_photo())[0].person == eileen


def test_threshold_from_the_settings(eileen):
    settings_row = PlatformSettings.current()
    settings_row.recognition_threshold = 0.001
    settings_row.save()
    registry.set_active(eileen, True)  # unchanged: no bump
    from detection.services.gallery import registry_changed

    registry_changed()
    gallery = pipeline().gallery
    assert gallery.threshold == pytest.approx(0.001)
    assert recognise(masked_face_photo())[0].person is None


def test_delete_person_erases_rows_vectors_and_files(eileen, media):
    assert len(stored_files(media)) == 2 + 4  # photo + crop + 4 variant crops
    subjects.erase_person(eileen)
    assert not Person.objects.filter(pk=eileen.pk).exists()
    assert FaceSample.objects.count() == 0
    assert stored_files(media) == []
    assert len(build_gallery(pipeline())) == 0
    assert recognise(face_photo())[0].person is None


def test_delete_sample_takes_its_variants_and_files(eileen, media):
    sample = eileen.samples.get(synthetic_mask=False)
    registry.delete_sample(sample)
    assert eileen.samples.count() == 0 and stored_files(media) == []


def detected_face() -> DetectedFace:
    log = DetectionLog.objects.create(source="upload", image_width=512, image_height=512)
    log.image.save("log.jpg", ContentFile(jpeg(face_photo())))
    return DetectedFace.objects.create(
        log=log, x1=180, y1=80, x2=280, y2=200, score=0.99, mask_label="without_mask", mask_probability=0.1
    )


def test_promote_page(admin_client, media):
    face = detected_face()
    url = reverse("detection:face_promote", args=[face.pk])
    assert admin_client.get(url).status_code == 200
    assert b"one of the two" in admin_client.post(url, {}).content
    response = admin_client.post(url, {"display_name": "Eileen", "lawful_basis": "employment"})
    person = Person.objects.get(display_name="Eileen")
    assert response["Location"] == reverse("detection:person_detail", args=[person.pk])


def test_promote_a_detected_face_to_a_new_person(admin_user, media):
    face = detected_face()
    sample = registry.promote_face(face, display_name="Eileen", consent=Declaration("consent"), user=admin_user)
    assert sample.person.display_name == "Eileen" and sample.source == FaceSample.Source.SNAPSHOT
    assert recognise(face_photo())[0].person == sample.person


# --- pages ----------------------------------------------------------------------------------


def test_admin_registers_a_person_with_photos_from_the_page(admin_client, media):
    response = admin_client.post(
        reverse("detection:person_create"),
        {
            "display_name": "Eileen Collins",
            "employee_code": "E-1",
            "notes": "",
            "lawful_basis": "consent",
            "photos": [SimpleUploadedFile("eileen.jpg", jpeg(face_photo()), "image/jpeg")],
            "webcam_photos": [SimpleUploadedFile("cam.jpg", b"garbage", "image/jpeg")],
        },
    )
    person = Person.objects.get(employee_code="E-1")
    assert response.status_code == 302 and response["Location"] == reverse("detection:person_detail", args=[person.pk])
    assert person.consent is not None and person.consent.recorded_by is not None
    assert person.samples.filter(synthetic_mask=False).count() == 1
    page = admin_client.get(response["Location"])
    assert b"cam.jpg" in page.content and b"not a recognised image" in page.content  # rejection reason shown
    sample = person.samples.get(synthetic_mask=False)
    assert admin_client.get(reverse("detection:sample_image", args=[sample.pk]))["Content-Type"] == "image/jpeg"
    listing = admin_client.get(reverse("detection:person_list"), {"q": "eileen"})
    assert b"Eileen Collins" in listing.content


def test_admin_pages_delete_and_deactivate(admin_client, eileen, media):
    admin_client.post(reverse("detection:person_deactivate", args=[eileen.pk]), {"active": "0"})
    eileen.refresh_from_db()
    assert not eileen.active
    assert admin_client.get(reverse("detection:person_delete", args=[eileen.pk])).status_code == 200
    response = admin_client.post(reverse("detection:person_delete", args=[eileen.pk]))
    assert response.status_code == 302 and not Person.objects.exists() and stored_files(media) == []


def test_staff_cannot_use_the_registry_pages(staff_client, eileen):
    for url in (
        reverse("detection:person_list"),
        reverse("detection:person_create"),
        reverse("detection:person_detail", args=[eileen.pk]),
        reverse("detection:person_import"),
        reverse("detection:settings"),
    ):
        assert staff_client.get(url).status_code == 403, url
    assert staff_client.post(reverse("detection:person_delete", args=[eileen.pk])).status_code == 403
    assert Person.objects.filter(pk=eileen.pk).exists()


#: The settings form's other fields, at their defaults.
SETTINGS_FORM = {
    "privacy_uploads": "whole",
    "privacy_batches": "whole",
    "privacy_cameras": "whole",
    "require_consent": "on",
    "erasure_grace_days": "30",
    "audit_retention_days": "2190",
}


def test_settings_page_changes_the_threshold_and_refreshes_galleries(admin_client):
    from django.core.cache import cache

    before = cache.get(GALLERY_VERSION_KEY, 0)
    response = admin_client.post(
        reverse("detection:settings"),
        {**SETTINGS_FORM, "recognition_threshold": "0.5", "store_images": "original", "image_retention_days": "7"},
    )
    assert response.status_code == 302
    current = PlatformSettings.current()
    assert (current.recognition_threshold, current.store_images, current.image_retention_days) == (0.5, "original", 7)
    assert cache.get(GALLERY_VERSION_KEY) == before + 1
    bad = admin_client.post(
        reverse("detection:settings"),
        {**SETTINGS_FORM, "recognition_threshold": "5", "store_images": "none", "image_retention_days": "1"},
    )
    assert bad.status_code == 200 and b"between 0 and 2" in bad.content


# --- API ------------------------------------------------------------------------------------


def test_api_admin_manages_people_and_faces(admin_token_client, media):
    created = admin_token_client.post(
        "/api/v1/people/", {"display_name": "Eileen", "lawful_basis": "consent"}, format="json"
    )
    assert created.status_code == 201, created.content
    pid = created.json()["id"]
    assert created.json()["sample_count"] == 0
    face_url = f"/api/v1/people/{pid}/faces/"
    added = admin_token_client.post(
        face_url, {"file": SimpleUploadedFile("e.jpg", jpeg(face_photo()))}, format="multipart"
    )
    assert added.status_code == 201, added.content
    assert added.json()["subject"] == "Eileen" and added.json()["masked_variants"] == 4
    rejected = admin_token_client.post(
        face_url, {"file": SimpleUploadedFile("e2.jpg", jpeg(face_photo()))}, format="multipart"
    )
    assert rejected.status_code == 400 and rejected.json()["code"] == "duplicate"
    listing = admin_token_client.get(face_url).json()
    assert [f["image_id"] for f in listing] == [added.json()["image_id"]]
    assert admin_token_client.get(f"/api/v1/people/{pid}/").json()["sample_count"] == 1
    patched = admin_token_client.patch(f"/api/v1/people/{pid}/", {"active": False}, format="json")
    assert patched.status_code == 200 and patched.json()["active"] is False
    assert admin_token_client.delete(f"{face_url}{added.json()['image_id']}/").status_code == 204
    assert FaceSample.objects.count() == 0 and stored_files(media) == []
    assert admin_token_client.delete(f"/api/v1/people/{pid}/").status_code == 204
    assert not Person.objects.exists()


def test_api_staff_recognises_faces_but_neither_reads_nor_writes_the_registry(token_client, eileen):
    assert token_client.get("/api/v1/people/").status_code == 403
    assert token_client.get(f"/api/v1/people/{eileen.pk}/").status_code == 403
    assert token_client.get(f"/api/v1/people/{eileen.pk}/faces/").status_code == 403
    recognised = token_client.post(
        "/api/v1/recognize/", {"file": SimpleUploadedFile("m.jpg", jpeg(masked_face_photo()))}, format="multipart"
    )
    assert recognised.status_code == 200
    [face] = recognised.json()["result"]
    assert face["identity"] == eileen.pk and face["subjects"][0]["subject"] == "Eileen Collins"
    assert 0 < face["subjects"][0]["similarity"] <= 1
    stranger = token_client.post(
        "/api/v1/recognize/", {"file": SimpleUploadedFile("g.jpg", jpeg(other_face()))}, format="multipart"
    ).json()["result"]
    assert stranger[0]["identity"] is None and stranger[0]["subjects"] == []
    # writes are refused
    assert token_client.post("/api/v1/people/", {"display_name": "X"}, format="json").status_code == 403
    assert token_client.patch(f"/api/v1/people/{eileen.pk}/", {"active": False}, format="json").status_code == 403
    assert token_client.delete(f"/api/v1/people/{eileen.pk}/").status_code == 403
    assert (
        token_client.post(
            f"/api/v1/people/{eileen.pk}/faces/",
            {"file": SimpleUploadedFile("e.jpg", jpeg(face_photo()))},
            format="multipart",
        ).status_code
        == 403
    )
    sample = eileen.samples.get(synthetic_mask=False)
    assert token_client.delete(f"/api/v1/people/{eileen.pk}/faces/{sample.pk}/").status_code == 403
    assert FaceSample.objects.filter(person=eileen).count() == 5


def test_api_recognize_rejects_a_bad_file(token_client):
    response = token_client.post(
        "/api/v1/recognize/", {"file": SimpleUploadedFile("x.jpg", b"not an image")}, format="multipart"
    )
    assert response.status_code == 400


def test_api_is_documented(admin_client):
    schema = admin_client.get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    assert "/api/v1/people/" in paths and "/api/v1/recognize/" in paths
    assert "/api/v1/people/{id}/faces/" in paths and "/api/v1/people/{id}/faces/{face_id}/" in paths
    assert "multipart/form-data" in paths["/api/v1/people/{id}/faces/"]["post"]["requestBody"]["content"]
