"""Model, job and pool pages and the REST API: who may see and do what, and what they show."""

from __future__ import annotations

import io
import zipfile

import pytest

from tests.photos import encode, face_photo, in_frame
from tests.training.support import constant_model, empty_registry, tiny_pool
from training.models import ModelVersion, TrainingImage, TrainingJob
from training.services import registry


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("page-models")
    return constant_model(folder / "a" / "m.tflite", 0.95), constant_model(folder / "b" / "m.tflite", 0.05)


@pytest.fixture
def versions(db, models):
    empty_registry()
    tiny_pool(per_class=4, eval_per_class=2)
    v1 = registry.register_version(models[1], status="active")
    v2 = registry.register_version(models[0], parent=v1)
    registry.gate(v2, margin=0)  # tie at 50%: activated, with the figures side by side
    v3 = registry.register_version(models[1], parent=v2)
    TrainingImage.objects.filter(split="eval", label="without_mask").first().delete()  # 2 with, 1 without
    registry.gate(v3, margin=0)  # 33% < 67%: rejected
    return v1, v2, v3


def test_model_pages_show_the_gate_figures(staff_client, versions):
    v1, v2, v3 = versions
    page = staff_client.get("/training/models/")
    assert page.status_code == 200 and b"v3" in page.content and b"Rejected" in page.content
    detail = staff_client.get(f"/training/models/{v3.pk}/")
    assert detail.status_code == 200
    assert b"gate-figures" in detail.content and b"0.3333" in detail.content and b"0.6667" in detail.content
    assert b"model-activate" not in detail.content  # Staff only look


def test_staff_cannot_activate_or_train(staff_client, versions):
    v1, _, _ = versions
    assert staff_client.post(f"/training/models/{v1.pk}/activate/").status_code == 403
    assert staff_client.post("/training/jobs/new/", {"epochs": 1, "input_size": 0}).status_code == 403
    assert staff_client.get("/training/pool/").status_code == 403


def test_admin_rolls_back_and_retires(admin_client, versions):
    v1, v2, v3 = versions
    response = admin_client.post(f"/training/models/{v1.pk}/activate/", follow=True)
    assert b"v1 is now active" in response.content
    assert registry.active_version() == v1
    admin_client.post(f"/training/models/{v3.pk}/retire/")
    v3.refresh_from_db()
    assert v3.status == "retired"
    response = admin_client.post(f"/training/models/{v1.pk}/retire/", follow=True)
    assert b"activate another version first" in response.content


def test_job_pages(admin_client, versions, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):  # queued only: no broker in this test
        response = admin_client.post("/training/jobs/new/", {"epochs": 2, "input_size": 32})
    job = TrainingJob.objects.get()
    assert response["Location"] == f"/training/jobs/{job.pk}/"
    page = admin_client.get(f"/training/jobs/{job.pk}/")
    assert page.status_code == 200 and b"job-cancel" in page.content and b"job-history" in page.content
    assert b"Queued" in admin_client.get("/training/jobs/").content
    admin_client.post(f"/training/jobs/{job.pk}/cancel/")
    job.refresh_from_db()
    assert job.status == "cancelled"
    bad = admin_client.post("/training/jobs/new/", {"epochs": -1, "input_size": 32}, follow=True)
    assert TrainingJob.objects.count() == 1 and b"epochs" in bad.content


def test_pool_page_imports_a_zip(admin_client, versions, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the import task body runs in this process
    from maskportal.celery import app

    app.conf.task_always_eager = True
    try:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("with_mask/a.jpg", encode(in_frame(face_photo(), 300, 300)))
            archive.writestr("without_mask/b.jpg", encode(in_frame(face_photo(), 320, 300)))
        buffer.seek(0)
        buffer.name = "set.zip"
        before = TrainingImage.objects.count()
        response = admin_client.post("/training/pool/", {"archive": buffer})
        assert response.status_code == 302
        assert TrainingImage.objects.count() == before + 2
    finally:
        app.conf.task_always_eager = False
    page = admin_client.get("/training/pool/?split=eval")
    assert page.status_code == 200 and b"pool-stats" in page.content
    image = TrainingImage.objects.first()
    assert admin_client.get(f"/training/pool/{image.pk}/image").status_code == 200
    assert admin_client.post("/training/pool/", {"folder": "relative/path"}).status_code == 400


def test_api_reads_for_staff(token_client, versions):
    v1, v2, v3 = versions
    listing = token_client.get("/api/v1/models/").json()
    rows = listing["results"] if isinstance(listing, dict) else listing
    assert [row["number"] for row in rows] == [3, 2, 1]
    assert token_client.get(f"/api/v1/models/{v3.pk}/").json()["gate_report"]["passed"] is False
    assert token_client.post(f"/api/v1/models/{v1.pk}/activate/").status_code == 403
    assert token_client.post("/api/v1/training-jobs/", {"epochs": 1}, format="json").status_code == 403
    assert token_client.get("/api/v1/training-jobs/").status_code == 200


def test_api_actions_for_admins(admin_token_client, versions, django_capture_on_commit_callbacks):
    v1, v2, v3 = versions
    response = admin_token_client.post(f"/api/v1/models/{v1.pk}/activate/")
    assert response.status_code == 200 and response.json()["status"] == "active"
    assert admin_token_client.post(f"/api/v1/models/{v1.pk}/retire/").status_code == 409
    with django_capture_on_commit_callbacks(execute=False):
        created = admin_token_client.post("/api/v1/training-jobs/", {"epochs": 1, "input_size": 32}, format="json")
    assert created.status_code == 201, created.content
    job_id = created.json()["id"]
    assert created.json()["status"] == "queued"
    refused = admin_token_client.post("/api/v1/training-jobs/", {"epochs": 1}, format="json")
    assert refused.status_code == 400 and "already queued" in str(refused.json())
    assert admin_token_client.get(f"/api/v1/training-jobs/{job_id}/").json()["epochs"] == 1
    assert admin_token_client.post(f"/api/v1/training-jobs/{job_id}/cancel/").json()["status"] == "cancelled"
    assert admin_token_client.post(f"/api/v1/training-jobs/{job_id}/cancel/").status_code == 409
    assert ModelVersion.objects.filter(status="active").count() == 1
