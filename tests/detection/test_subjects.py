"""Subject access export and erasure on real photos: exactly one person's data out, every trace gone."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.audit import record
from accounts.models import AuditEvent
from detection.engine.imageio import decode_image
from detection.engine.redact import padded
from detection.models import ConsentRecord, DetectedFace, DetectionLog, FaceImport, FaceSample, Person
from detection.services import registry, subjects
from detection.services.consent import Declaration
from detection.services.engine import pipeline
from detection.services.gallery import build_gallery, recognise
from detection.services.review import review_face
from tests.detection import registry_photos
from tests.detection.registry_photos import jpeg, other_face, two_faces
from tests.photos import face_photo
from training.models import TrainingImage

pytestmark = pytest.mark.django_db
media = registry_photos.media  # fixture

PDF = b"%PDF-1.4\n%%EOF\n"
#: Boxes of the two faces in two_faces() (astronaut left, Grace Hopper right), as the engine finds them.
EILEEN_BOX = (175.0, 75.0, 275.0, 190.0)
GRACE_BOX = (625.0, 70.0, 720.0, 170.0)


@pytest.fixture
def people(media, admin_user):
    """Eileen and Grace registered with photos, consent documents and a detection each; one shared photo."""
    eileen = registry.create_person(
        display_name="Eileen Collins",
        employee_code="E-1",
        notes="Astronaut",
        user=admin_user,
        consent=Declaration("consent", "Form 1", SimpleUploadedFile("e.pdf", PDF)),
    )
    grace = registry.create_person(
        display_name="Grace Hopper", user=admin_user, consent=Declaration("employment", "Contract")
    )
    registry.add_photos(eileen, [("e.jpg", jpeg(face_photo()), FaceSample.Source.UPLOAD)], user=admin_user)
    registry.add_photos(grace, [("g.jpg", jpeg(other_face()), FaceSample.Source.UPLOAD)], user=admin_user)
    together = DetectionLog.objects.create(
        source="camera",
        image_width=800,
        image_height=600,
        face_count=2,
        summary="Eileen Collins without a mask at Gate",
    )
    together.image.save("both.jpg", ContentFile(jpeg(two_faces())))
    faces = {
        "eileen": DetectedFace.objects.create(
            log=together,
            x1=EILEEN_BOX[0],
            y1=EILEEN_BOX[1],
            x2=EILEEN_BOX[2],
            y2=EILEEN_BOX[3],
            score=0.99,
            mask_label="without_mask",
            mask_probability=0.1,
            person=eileen,
            distance=0.05,
        ),
        "grace": DetectedFace.objects.create(
            log=together,
            x1=GRACE_BOX[0],
            y1=GRACE_BOX[1],
            x2=GRACE_BOX[2],
            y2=GRACE_BOX[3],
            score=0.99,
            mask_label="without_mask",
            mask_probability=0.1,
            person=grace,
            distance=0.04,
        ),
    }
    for face in faces.values():
        face.crop.save("face.jpg", ContentFile(jpeg(face_photo()[:160, :160])))
    alone = DetectionLog.objects.create(source="upload", image_width=512, image_height=600, face_count=1)
    alone.image.save("grace.jpg", ContentFile(jpeg(other_face())))
    DetectedFace.objects.create(
        log=alone, x1=180, y1=100, x2=330, y2=300, score=0.9, mask_label="with_mask", mask_probability=0.9, person=grace
    )
    return eileen, grace, together, faces


def archive_of(response) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_the_export_holds_exactly_the_persons_data(admin_client, people):
    eileen, grace, together, faces = people
    response = admin_client.get(reverse("detection:person_export", args=[eileen.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = archive_of(response)
    sample = eileen.samples.get(synthetic_mask=False)
    variants = list(eileen.samples.filter(synthetic_mask=True).values_list("pk", flat=True))
    expected = {
        "manifest.json",
        "profile.json",
        "consent.json",
        "consent/document.pdf",
        "photos.json",
        "detections.json",
        "audit.json",
        f"photos/{sample.pk}-photo.jpg",
        f"photos/{sample.pk}-crop.jpg",
        *(f"photos/{pk}-crop.jpg" for pk in variants),
        f"detections/{together.pk}-image.jpg",
        f"detections/{together.pk}-face{faces['eileen'].pk}.jpg",
    }
    assert set(archive.namelist()) == expected
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["person"] == eileen.pk and manifest["counts"] == {"photos": 5, "detections": 1}
    for entry in manifest["files"]:  # every file listed with its checksum, as stored
        assert hashlib.sha256(archive.read(entry["path"])).hexdigest() == entry["sha256"]
    assert {e["path"] for e in manifest["files"]} == expected - {"manifest.json"}
    with eileen.consent.document.open("rb") as handle:
        assert archive.read("consent/document.pdf") == handle.read()
    with together.image.open("rb") as handle:
        assert archive.read(f"detections/{together.pk}-image.jpg") == handle.read()  # the image as stored
    profile = json.loads(archive.read("profile.json"))
    assert (profile["display_name"], profile["employee_code"], profile["notes"]) == (
        "Eileen Collins",
        "E-1",
        "Astronaut",
    )
    assert json.loads(archive.read("consent.json"))["lawful_basis"] == "consent"
    [detection] = json.loads(archive.read("detections.json"))
    assert detection["face"] == faces["eileen"].pk and detection["recognised_by_engine"]
    events = json.loads(archive.read("audit.json"))
    assert {"Person registered", "Consent recorded", "Face photo added", "Subject access export made"} <= {
        e["event"] for e in events
    }
    # nothing about anyone else
    text = b"".join(archive.read(name) for name in archive.namelist() if name.endswith(".json")).decode()
    assert "Grace" not in text and "Contract" not in text
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.SUBJECT_EXPORTED, object_id=str(eileen.pk)).exists()


def test_the_export_through_the_api_is_admin_only(admin_token_client, staff_user, people):
    from rest_framework.test import APIClient

    eileen = people[0]
    staff = APIClient()
    staff.force_authenticate(staff_user)
    assert staff.get(f"/api/v1/people/{eileen.pk}/export/").status_code == 403
    response = admin_token_client.get(f"/api/v1/people/{eileen.pk}/export/")
    assert response.status_code == 200
    assert "profile.json" in archive_of(response).namelist()


def region(image: np.ndarray, box, scale: float = 1.0) -> np.ndarray:
    x1, y1, x2, y2 = padded(tuple(v * scale for v in box), image.shape[1], image.shape[0], 0.0)
    return image[y1:y2, x1:x2].astype(np.int16)


def stored_files() -> set[str]:
    root = Path(settings.MEDIA_ROOT)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and "models" not in p.parts}


def test_erasure_removes_files_vectors_names_and_faces(admin_client, admin_user, people):
    eileen, grace, together, faces = people
    before_image = decode_image(together.image.open("rb").read())
    eileen_files = {s.image.name for s in eileen.samples.all() if s.image} | {s.crop.name for s in eileen.samples.all()}
    eileen_files |= {eileen.consent.document.name, faces["eileen"].crop.name}
    import_job = FaceImport.objects.create(
        owner=admin_user,
        source_name="team.zip",
        report=[
            {"file": "Eileen_Collins/a.jpg", "person": "Eileen Collins", "status": "accepted", "reason": ""},
            {"file": "Grace_Hopper/g.jpg", "person": "Grace Hopper", "status": "accepted", "reason": ""},
        ],
    )
    record(AuditEvent.Kind.PERSON_CHANGED, obj=eileen, changes={"Notes": ["Astronaut", "Commander"]})
    review_face(faces["eileen"], user=admin_user, mask_label="with_mask")  # its audit event names her
    [pool_image] = TrainingImage.objects.filter(detected_face=faces["eileen"])  # a correction cut from her face
    assert {p.person for p in recognise(two_faces())} == {eileen, grace}
    old_image_name = together.image.name

    response = admin_client.post(reverse("detection:person_delete", args=[eileen.pk]), {"reason": "request 12"})
    assert response.status_code == 302

    # files: photos, crops, consent document, the detection's face crop; the old image file too
    remaining = stored_files()
    assert not eileen_files & remaining and old_image_name not in remaining
    assert not TrainingImage.objects.filter(pk=pool_image.pk).exists() and pool_image.image.name not in remaining
    assert not Person.objects.filter(pk=eileen.pk).exists() and not FaceSample.objects.filter(person_id=eileen.pk)
    assert not ConsentRecord.objects.filter(lawful_basis="consent").exists()
    # vectors: the gallery no longer holds her
    assert str(eileen.pk) not in build_gallery(pipeline()).names
    assert {p.person for p in recognise(two_faces())} == {None, grace}
    # names: the log no longer names her
    face = DetectedFace.objects.get(pk=faces["eileen"].pk)
    assert face.person is None and face.corrected_person is None and face.distance is None and not face.crop
    together.refresh_from_db()
    assert "Eileen" not in together.summary and together.unknown_count == 1
    assert "Eileen" not in json.dumps(FaceImport.objects.get(pk=import_job.pk).report)
    # faces: hers is blurred in the stored image, Grace's and the rest are as they were
    after_image = decode_image(together.image.open("rb").read())
    assert np.abs(region(after_image, EILEEN_BOX) - region(before_image, EILEEN_BOX)).mean() > 8
    assert np.abs(region(after_image, GRACE_BOX) - region(before_image, GRACE_BOX)).mean() < 4
    # the audit keeps only the fact: her events are redacted, the erasure names no one
    about_her = AuditEvent.objects.filter(object_type="person", object_id=str(eileen.pk))
    assert about_her.filter(redacted=False).get().kind == AuditEvent.Kind.PERSON_ERASED
    assert not any("Eileen" in json.dumps(e.detail) + e.object_repr for e in AuditEvent.objects.all())
    erased = about_her.get(kind=AuditEvent.Kind.PERSON_ERASED)
    assert erased.actor == admin_user and erased.detail["reason"] == "request 12"
    # Grace is untouched
    grace.refresh_from_db()
    assert grace.samples.count() == 5 and grace.consent is not None
    assert DetectedFace.objects.filter(person=grace).count() == 2
    assert DetectedFace.objects.get(pk=faces["grace"].pk).crop


def test_erasure_through_the_api_and_a_shared_import_declaration_stays(admin_token_client, admin_user, media):
    shared = ConsentRecord.objects.create(lawful_basis="employment", recorded_by=admin_user)
    first = registry.create_person(display_name="A", consent=shared, user=admin_user)
    registry.create_person(display_name="B", consent=shared, user=admin_user)
    assert admin_token_client.delete(f"/api/v1/people/{first.pk}/").status_code == 204
    assert not Person.objects.filter(pk=first.pk).exists()
    assert ConsentRecord.objects.filter(pk=shared.pk).exists()  # still B's lawful basis


def test_erasure_drops_a_stored_image_it_cannot_read(people):
    eileen, _, together, _ = people
    together.image.save("broken.jpg", ContentFile(b"not an image"))
    subjects.erase_person(eileen)
    together.refresh_from_db()
    assert not together.image
