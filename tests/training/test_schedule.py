"""Scheduled retraining: the periodic task exists, is editable, and starts a job only past N."""

from __future__ import annotations

import json

import pytest
from django_celery_beat.models import PeriodicTask

from tests.photos import encode, face_photo
from tests.training.support import constant_model, empty_registry, tiny_pool
from training.models import TrainingJob
from training.services import jobs, pool, registry, schedule
from training.tasks import scheduled_retraining


@pytest.mark.django_db
def test_the_migration_created_the_periodic_task():
    task = PeriodicTask.objects.get(name=schedule.SCHEDULE_NAME)
    assert task.task == "training.tasks.scheduled_retraining" and task.enabled
    assert json.loads(task.kwargs)["min_new_images"] > 0
    assert task.crontab is not None
    assert PeriodicTask.objects.get(task="training.tasks.reap_stale_jobs").interval.every == 60


@pytest.mark.django_db
def test_triggers_only_past_the_threshold(django_capture_on_commit_callbacks, tmp_path):
    empty_registry()
    registry.register_version(constant_model(tmp_path / "m.tflite"), status="active")
    tiny_pool(per_class=4, eval_per_class=1)  # 8 images newer than the active version
    assert jobs.new_images_since_active() == 8
    assert scheduled_retraining(min_new_images=9) is None
    assert not TrainingJob.objects.exists()
    with django_capture_on_commit_callbacks(execute=False):  # keep the job queued, no broker needed
        job_id = scheduled_retraining(min_new_images=8)
    job = TrainingJob.objects.get(pk=job_id)
    assert (job.trigger, job.status, job.created_by) == ("schedule", "queued", None)
    with django_capture_on_commit_callbacks(execute=False):
        assert scheduled_retraining(min_new_images=1) is None  # one job at a time


@pytest.mark.django_db
def test_counts_only_images_newer_than_the_active_version(tmp_path):
    from tests.training.support import constant_model
    from training.services import registry

    empty_registry()
    tiny_pool(per_class=2, eval_per_class=1)
    registry.register_version(constant_model(tmp_path / "m.tflite"), status="active")
    assert jobs.new_images_since_active() == 0
    pool.add_image(encode(face_photo()), "without_mask", "upload")
    assert jobs.new_images_since_active() == 1


@pytest.mark.django_db
def test_settings_page_edits_the_periodic_task(admin_client):
    response = admin_client.get("/training/settings/")
    assert response.status_code == 200 and b"Retraining settings" in response.content
    form = {
        "enabled": "",
        "minute": "30",
        "hour": "*/6",
        "day_of_week": "1-5",
        "min_new_images": "50",
        "default_epochs": "3",
        "gate_margin": "0.5",
    }
    assert admin_client.post("/training/settings/", form).status_code == 302
    task = PeriodicTask.objects.get(name=schedule.SCHEDULE_NAME)
    assert json.loads(task.kwargs) == {"min_new_images": 50} and not task.enabled
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("30", "*/6", "1-5")
    assert schedule.current_settings()["gate_margin"] == 0.5
    bad = admin_client.post("/training/settings/", {**form, "hour": "99"})
    assert bad.status_code == 200 and b"text-danger" in bad.content or b"errorlist" in bad.content


@pytest.mark.django_db
def test_settings_page_needs_the_admin_role(staff_client):
    assert staff_client.get("/training/settings/").status_code == 403
