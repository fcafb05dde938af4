"""The audit trail: every sensitive action of the issue leaves an event with actor, object, before/after
and IP; events are an enumeration shown with readable names and details; rows cannot be changed or
deleted from the app, and have their own, longer retention."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.admin.sites import site
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import QuerySet
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from accounts.audit import purge_old_events, record
from accounts.models import AuditEvent
from detection.models import AlertWebhook, Camera, DetectedFace, DetectionLog, Person, PlatformSettings
from tests.detection import registry_photos
from tests.detection.registry_photos import jpeg, zip_of
from tests.detection.test_registry import SETTINGS_FORM
from tests.photos import encode, face_photo
from training.models import ModelVersion, TrainingJob
from training.services import pool

pytestmark = pytest.mark.django_db
media = registry_photos.media  # fixture

Kind = AuditEvent.Kind
#: Events of sign-in and user administration, audited before this trail covered the rest (lockout and
#: unlock: tests/security/test_lockout_throttle.py).
ACCOUNT_KINDS = {
    Kind.LOCKED_OUT,
    Kind.UNLOCKED,
    Kind.LOGIN,
    Kind.LOGIN_FAILED,
    Kind.LOGOUT,
    Kind.ROLE_CHANGED,
    Kind.TOKEN_CREATED,
    Kind.TOKEN_REVOKED,
    Kind.USER_CREATED,
    Kind.USER_DISABLED,
    Kind.USER_ENABLED,
    Kind.PASSWORD_CHANGED,
    Kind.PASSWORD_RESET,
    Kind.USER_UPDATED,
    Kind.USER_DELETED,
    Kind.AUDIT_PURGED,
}


class Trail:
    """Runs actions as the Admin and checks the one new event each leaves."""

    def __init__(self, client, admin):
        self.client, self.admin = client, admin
        self.seen: set[str] = set()

    def expect(self, kind: str, action, *, object_type: str, changes: dict | None = None) -> AuditEvent:
        last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        response = action()
        if hasattr(response, "status_code"):
            assert response.status_code < 400, (kind, response.status_code, getattr(response, "content", b"")[:500])
        events = AuditEvent.objects.filter(id__gt=last, kind=kind)
        assert events.exists(), (
            f"no {kind} event; got {list(AuditEvent.objects.filter(id__gt=last).values_list('kind', flat=True))}"
        )
        event = events.latest("id")
        assert event.actor == self.admin, kind
        assert event.ip_address == "127.0.0.1", kind
        assert event.object_type == object_type and event.object_id, kind
        for field, pair in (changes or {}).items():
            assert event.detail["changes"][field] == pair, (kind, event.detail)
        self.seen.add(kind)
        return event


def test_every_sensitive_action_leaves_an_audit_event(admin_client, admin_user, media, tmp_path, settings):
    trail = Trail(admin_client, admin_user)
    c = admin_client

    # --- the face registry ---
    trail.expect(
        Kind.PERSON_CREATED,
        lambda: c.post(
            reverse("detection:person_create"), {"display_name": "Eileen Collins", "lawful_basis": "consent"}
        ),
        object_type="person",
    )
    eileen = Person.objects.get()
    assert AuditEvent.objects.filter(kind=Kind.CONSENT_RECORDED, object_id=str(eileen.pk)).exists()
    trail.seen.add(Kind.CONSENT_RECORDED)
    trail.expect(
        Kind.PERSON_CHANGED,
        lambda: c.post(
            reverse("detection:person_edit", args=[eileen.pk]),
            {"display_name": "Eileen M. Collins", "employee_code": "", "notes": "Commander"},
        ),
        object_type="person",
        changes={"Display name": ["Eileen Collins", "Eileen M. Collins"], "Notes": ["", "Commander"]},
    )
    trail.expect(
        Kind.PHOTO_ADDED,
        lambda: c.post(
            reverse("detection:person_detail", args=[eileen.pk]),
            {"photos": [SimpleUploadedFile("e.jpg", jpeg(face_photo()), "image/jpeg")]},
        ),
        object_type="person",
    )
    sample = eileen.samples.get(synthetic_mask=False)
    trail.expect(
        Kind.PERSON_DEACTIVATED,
        lambda: c.post(reverse("detection:person_deactivate", args=[eileen.pk]), {"active": "0"}),
        object_type="person",
    )
    trail.expect(
        Kind.PERSON_ACTIVATED,
        lambda: c.post(reverse("detection:person_deactivate", args=[eileen.pk]), {"active": "1"}),
        object_type="person",
    )
    trail.expect(
        Kind.CONSENT_RECORDED,
        lambda: c.post(reverse("detection:person_consent", args=[eileen.pk]), {"lawful_basis": "employment"}),
        object_type="person",
    )
    trail.expect(
        Kind.PHOTO_REMOVED, lambda: c.post(reverse("detection:sample_delete", args=[sample.pk])), object_type="person"
    )
    log = DetectionLog.objects.create(source="upload", image_width=512, image_height=512, face_count=1)
    log.image.save("log.jpg", ContentFile(jpeg(face_photo())))
    face = DetectedFace.objects.create(
        log=log, x1=180, y1=80, x2=280, y2=200, score=0.99, mask_label="without_mask", mask_probability=0.1
    )
    trail.expect(
        Kind.FACE_PROMOTED,
        lambda: c.post(reverse("detection:face_promote", args=[face.pk]), {"person": eileen.pk}),
        object_type="person",
    )
    archive = SimpleUploadedFile("team.zip", zip_of({"Grace/g.jpg": jpeg(face_photo())}), "application/zip")
    trail.expect(
        Kind.IMPORT_RUN,
        lambda: c.post(reverse("detection:person_import"), {"archive": archive, "lawful_basis": "employment"}),
        object_type="faceimport",
    )
    trail.expect(
        Kind.SUBJECT_EXPORTED, lambda: c.get(reverse("detection:person_export", args=[eileen.pk])), object_type="person"
    )
    trail.expect(
        Kind.CONSENT_WITHDRAWN,
        lambda: c.post(reverse("detection:person_withdraw", args=[eileen.pk])),
        object_type="person",
    )
    trail.expect(
        Kind.PERSON_ERASED, lambda: c.post(reverse("detection:person_delete", args=[eileen.pk])), object_type="person"
    )

    # --- the log: corrections and exports ---
    trail.expect(
        Kind.DETECTION_CORRECTED,
        lambda: c.post(reverse("detection:face_review", args=[face.pk]), {"mask_label": "with_mask", "person": ""}),
        object_type="detectedface",
        changes={"Mask": ["Without mask", "With mask"]},
    )
    last = AuditEvent.objects.order_by("-id").first().id  # the CSV export has no single object
    assert c.get(reverse("detection:log_export"), {"source": "upload"}).status_code == 200
    export = AuditEvent.objects.get(id__gt=last, kind=Kind.CSV_EXPORTED)
    assert (
        export.actor == admin_user
        and export.ip_address == "127.0.0.1"
        and export.detail["filters"] == {"source": "upload"}
    )
    trail.seen.add(Kind.CSV_EXPORTED)

    # --- settings: threshold, storage, retention, privacy ---
    trail.expect(
        Kind.SETTINGS_CHANGED,
        lambda: c.post(
            reverse("detection:settings"),
            {
                **SETTINGS_FORM,
                "recognition_threshold": "0.4",
                "store_images": "original",
                "image_retention_days": "7",
                "privacy_cameras": "blur",
            },
        ),
        object_type="platformsettings",
        changes={
            "Recognition threshold": [None, 0.4],
            "Store images": ["Downscaled copy", "Original"],
            "Image retention days": [30, 7],
            "Privacy mode: cameras": ["Whole image", "Blur every face that is not a recognised registered person"],
        },
    )

    # --- training ---
    settings.TRAINING_MIN_TRAIN_PER_CLASS = settings.TRAINING_MIN_EVAL_PER_CLASS = 1
    pool.add_image(encode(face_photo()), "without_mask", "upload", split="train")
    pool.add_image(encode(face_photo()[::-1]), "without_mask", "upload", split="eval")
    pool.add_image(encode(face_photo()[:, ::-1]), "with_mask", "upload", split="train")
    pool.add_image(encode(face_photo()[::-1, ::-1]), "with_mask", "upload", split="eval")
    trail.expect(
        Kind.TRAINING_STARTED,
        lambda: c.post(reverse("training:job_create"), {"epochs": "1", "input_size": "0"}),
        object_type="trainingjob",
    )
    job = TrainingJob.objects.latest("id")
    trail.expect(
        Kind.TRAINING_CANCELLED,
        lambda: c.post(reverse("training:job_cancel", args=[job.pk])),
        object_type="trainingjob",
    )
    artifact = tmp_path / "model.tflite"
    artifact.write_bytes(b"model")
    top = max(ModelVersion.objects.values_list("number", flat=True), default=0)
    older = ModelVersion.objects.create(number=top + 1, artifact=str(artifact), status="retired")
    newer = ModelVersion.objects.create(number=top + 2, artifact=str(artifact), status="candidate")
    trail.expect(
        Kind.MODEL_PROMOTED,
        lambda: c.post(reverse("training:model_activate", args=[newer.pk])),
        object_type="modelversion",
    )
    trail.expect(
        Kind.MODEL_ROLLED_BACK,
        lambda: c.post(reverse("training:model_activate", args=[older.pk])),
        object_type="modelversion",
    )
    trail.expect(
        Kind.SCHEDULE_CHANGED,
        lambda: c.post(
            reverse("training:retrain_settings"),
            {
                "enabled": "on",
                "minute": "15",
                "hour": "4",
                "day_of_week": "*",
                "min_new_images": "50",
                "default_epochs": "3",
                "gate_margin": "0.5",
            },
        ),
        object_type="periodictask",
        changes={"hour": ["3", "4"]},
    )

    # --- cameras and webhooks, in pages and the API ---
    trail.expect(
        Kind.CAMERA_CREATED,
        lambda: c.post(
            reverse("detection:camera_create"),
            {"name": "Door", "kind": "file", "url": "/videos/door.avi", "enabled": "on", "max_fps": 4},
        ),
        object_type="camera",
    )
    door = Camera.objects.get(name="Door")
    trail.expect(
        Kind.CAMERA_CHANGED,
        lambda: c.patch(f"/api/v1/cameras/{door.pk}/", {"max_fps": 2}, content_type="application/json"),
        object_type="camera",
        changes={"Max fps": [4.0, 2.0]},
    )
    trail.expect(Kind.CAMERA_DELETED, lambda: c.delete(f"/api/v1/cameras/{door.pk}/"), object_type="camera")
    trail.expect(
        Kind.WEBHOOK_CREATED,
        lambda: c.post(
            reverse("detection:webhook_create"),
            {"name": "Ops", "url": "https://hooks.example.org/x", "secret": "s" * 20, "enabled": "on"},
        ),
        object_type="alertwebhook",
    )
    hook = AlertWebhook.objects.get()
    changed = trail.expect(
        Kind.WEBHOOK_CHANGED,
        lambda: c.post(
            reverse("detection:webhook_update", args=[hook.pk]),
            {"name": "Ops", "url": "https://hooks.example.org/y", "secret": "t" * 20, "enabled": "on"},
        ),
        object_type="alertwebhook",
        changes={"Url": ["https://hooks.example.org/x", "https://hooks.example.org/y"]},
    )
    assert changed.detail["secret_changed"] is True and "t" * 20 not in json.dumps(changed.detail)
    trail.expect(
        Kind.WEBHOOK_DELETED,
        lambda: c.post(reverse("detection:webhook_delete", args=[hook.pk])),
        object_type="alertwebhook",
    )

    # every kind of the enumeration beyond sign-in and user administration was walked
    assert set(Kind.values) - ACCOUNT_KINDS == trail.seen


def test_api_registry_actions_are_audited_with_the_token_user(admin_token_client, admin_user, media):
    created = admin_token_client.post(
        "/api/v1/people/", {"display_name": "Ann", "lawful_basis": "consent"}, format="json"
    )
    pid = created.json()["id"]
    admin_token_client.patch(f"/api/v1/people/{pid}/", {"notes": "night shift"}, format="json")
    admin_token_client.delete(f"/api/v1/people/{pid}/")
    kinds = list(
        AuditEvent.objects.filter(object_type="person", object_id=str(pid)).order_by("id").values_list("kind", "actor")
    )
    assert kinds == [
        (Kind.PERSON_CREATED, admin_user.pk),
        (Kind.CONSENT_RECORDED, admin_user.pk),
        (Kind.PERSON_CHANGED, admin_user.pk),
        (Kind.PERSON_ERASED, admin_user.pk),
    ]


def test_the_audit_page_filters_by_readable_event_names_and_shows_readable_details(admin_client, admin_user):
    camera = Camera.objects.create(name="Gate", max_fps=5.0)
    camera.max_fps = 2.0
    camera.save()
    page = admin_client.get(reverse("accounts:audit"))
    body = page.content.decode()
    for value, label in Kind.choices:  # every event type in the filter, by its name
        assert f'<option value="{value}"' in body and f">{label}</option>" in body
    assert "Max fps: 5.0 → 2.0" in body and "Name: Gate" in body
    assert "{" not in body.split("<tbody>")[1].split("</tbody>")[0]  # no raw dicts
    filtered = admin_client.get(reverse("accounts:audit"), {"kind": Kind.CAMERA_CHANGED}).content.decode()
    assert "Camera changed" in filtered and "Camera added" not in filtered.split("<tbody>")[1]


def test_audit_rows_cannot_be_changed_or_deleted_from_the_app(admin_user):
    event = record(Kind.CSV_EXPORTED, actor=admin_user, rows=3)
    event.detail = {}
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(detail={})
    assert AuditEvent.objects.get(pk=event.pk).detail == {"rows": 3}
    request = RequestFactory().get("/")
    request.user = admin_user
    model_admin = site._registry[AuditEvent]
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, event)
    assert not model_admin.has_delete_permission(request, event)
    with pytest.raises(ValueError, match="unknown audit event kind"):
        record("camera_saved")


def test_the_audit_has_its_own_longer_retention(admin_client, admin_user):
    old = record(Kind.CSV_EXPORTED, actor=admin_user)
    # age the row behind the guard's back (the app itself cannot)
    QuerySet.update(AuditEvent.objects.filter(pk=old.pk), created_at=timezone.now() - timedelta(days=400))
    recent = record(Kind.CSV_EXPORTED, actor=admin_user)
    assert purge_old_events(0) == 0  # 0 keeps everything
    assert purge_old_events(365) == 1
    assert not AuditEvent.objects.filter(pk=old.pk).exists() and AuditEvent.objects.filter(pk=recent.pk).exists()
    assert AuditEvent.objects.filter(kind=Kind.AUDIT_PURGED, detail__events=1).exists()
    shorter = admin_client.post(
        reverse("detection:settings"),
        {**SETTINGS_FORM, "store_images": "downscaled", "image_retention_days": "90", "audit_retention_days": "30"},
    )
    assert shorter.status_code == 200 and b"at least as long as detection images" in shorter.content
    assert PlatformSettings.current().audit_retention_days == 2190
    assert PlatformSettings.current().audit_retention_days > PlatformSettings.current().image_retention_days


def test_a_persons_page_links_to_their_audit_history(admin_client, admin_user, media):
    from detection.services import registry
    from detection.services.consent import Declaration

    ann = registry.create_person(display_name="Ann", consent=Declaration("consent"), user=admin_user)
    registry.create_person(display_name="Bo", consent=Declaration("consent"), user=admin_user)
    link = f"{reverse('accounts:audit')}?object_type=person&amp;object_id={ann.pk}"
    assert link in admin_client.get(reverse("detection:person_detail", args=[ann.pk])).content.decode()
    history = admin_client.get(reverse("accounts:audit"), {"object_type": "person", "object_id": ann.pk})
    assert {e.object_repr for e in history.context["object_list"]} == {"Ann"}
