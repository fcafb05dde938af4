"""Dashboard: a Jobs panel over batches, face imports and training jobs; what to do first on an empty
platform; alerts only where they are watched (the page-side grouping is a browser test)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from detection.models import BatchJob, Camera, DetectionLog, FaceImport, Person
from detection.services import stats
from training.models import TrainingJob

pytestmark = pytest.mark.django_db


def test_the_jobs_panel_lists_batches_imports_and_training_jobs(admin_user, admin_client):
    batch = BatchJob.objects.create(owner=admin_user, status="running", total=4, done=1)
    face_import = FaceImport.objects.create(owner=admin_user, source_name="team.zip", status="succeeded", total=2)
    training = TrainingJob.objects.create(created_by=admin_user, status="running", progress=0.4)
    figures = stats.dashboard(user=admin_user)
    running = {(j["kind"], j["id"]) for j in figures["running_jobs"]}
    assert running == {("batch", batch.pk), ("training", training.pk)}
    assert [(j["kind"], j["label"]) for j in figures["recent_jobs"]] == [("face_import", "Import team.zip")]
    html = admin_client.get("/").content.decode()
    assert reverse("training:job_detail", args=[training.pk]) in html and ">40%<" in html
    assert reverse("detection:person_import_detail", args=[face_import.pk]) in html
    assert (
        f'data-kind="batch"><a href="{reverse("detection:batch_detail", args=[batch.pk])}">Batch {batch.pk}</a>' in html
    )


def test_staff_see_their_own_batches_and_no_imports(staff_user, admin_user):
    mine = BatchJob.objects.create(owner=staff_user, status="running")
    BatchJob.objects.create(owner=admin_user, status="running")
    FaceImport.objects.create(owner=admin_user, source_name="a.zip", status="running")
    figures = stats.dashboard(user=staff_user)
    assert [(j["kind"], j["id"]) for j in figures["running_jobs"] if j["kind"] != "training"] == [("batch", mine.pk)]


def test_the_stats_api_gives_the_same_jobs_panel(token_client, staff_user):
    BatchJob.objects.create(owner=staff_user, status="queued")
    body = token_client.get("/api/v1/stats/").json()
    assert [j["kind"] for j in body["running_jobs"]] == ["batch"] and body["running_jobs"][0]["url"]


def test_an_empty_platform_says_what_to_do_first(admin_client):
    html = admin_client.get("/").content.decode()
    assert 'id="first-steps"' in html
    for target in ("detection:upload", "detection:person_create", "detection:camera_create"):
        assert f'href="{reverse(target)}"' in html
    Person.objects.create(display_name="Ann")
    Camera.objects.create(name="Gate")
    html = admin_client.get("/").content.decode()
    assert "People are registered" in html and "A camera is set up" in html
    DetectionLog.objects.create(source="upload")
    assert 'id="first-steps"' not in admin_client.get("/").content.decode()


def test_only_the_dashboard_asks_for_alerts(staff_client):
    assert 'data-alerts="dashboard"' in staff_client.get("/").content.decode()
    assert "data-alerts" not in staff_client.get(reverse("detection:log_list")).content.decode()
