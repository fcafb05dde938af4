"""Training jobs through a real Celery worker on a tiny generated pool (32 px, random weights)."""

from __future__ import annotations

import time

import pytest

from tests.training.support import (
    TINY_INPUT,
    TINY_OPTIONS,
    constant_model,
    empty_registry,
    oracle_model,
    tiny_pool,
)
from training.models import ModelVersion, TrainingImage, TrainingJob
from training.services import jobs, registry, runner

pytestmark = pytest.mark.django_db(transaction=True)

#: Head epochs take milliseconds on 10 pooled feature vectors: this keeps a job busy for minutes.
ENDLESS = {**TINY_OPTIONS, "head_epochs": 100_000}


def wait_for(job: TrainingJob, predicate, timeout: float, what: str, worker=None) -> TrainingJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if predicate(job):
            return job
        time.sleep(0.3)
    output = worker.output() if worker is not None else ""
    raise AssertionError(f"job {job.pk} never {what}: {job.status} {job.error}\n{job.log[-3000:]}\n{output}")


@pytest.fixture
def baseline(tmp_path):
    """A tiny pool and a deliberately poor active v1 (always 'without mask')."""
    empty_registry()
    tiny_pool(per_class=8, eval_per_class=3)
    model = constant_model(tmp_path / "v1" / "mask_classifier.tflite", 0.05)
    return registry.register_version(model, status="active")


def test_lifecycle_gate_and_rejection(celery_worker, baseline, admin_user, tmp_path):
    job = jobs.create_job(admin_user, epochs=1, input_size=TINY_INPUT, options=TINY_OPTIONS)
    assert job.status == "queued" and job.parent_version == baseline
    wait_for(job, lambda j: j.status != "queued", 120, "started", celery_worker)
    job = wait_for(job, lambda j: j.status in jobs.FINISHED, 300, "finished", celery_worker)
    assert job.status == "succeeded", job.error
    epochs = [e["epoch"] for e in job.history]
    assert epochs == list(range(1, len(epochs) + 1)) and epochs[-1] == job.history[-1]["epochs"] >= 5
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "phase"} <= set(job.history[-1])
    assert job.progress == 1.0 and job.heartbeat_at and job.worker
    assert f"epoch {epochs[-1]}/{epochs[-1]}" in job.log and not job.error
    candidate = job.result_version
    assert candidate.status == "active", candidate.gate_report  # never worse than an 'always no mask' v1
    assert candidate.parent == baseline and candidate.job == job
    report = candidate.gate_report
    assert report["passed"] and report["active"]["version"] == "v1"
    assert report["candidate"]["accuracy"] >= report["active"]["accuracy"] == 0.5
    assert registry.keras_path(candidate) is not None  # the next job fine-tunes from it
    baseline.refresh_from_db()
    assert baseline.status == "retired"

    # against a strong active version a seconds-long run is worse: rejected, figures side by side
    strong = registry.activate(
        registry.register_version(oracle_model(tmp_path / "o.tflite", registry.evaluation_images()))
    )
    worse_job = jobs.create_job(admin_user, epochs=0, input_size=TINY_INPUT, options={**TINY_OPTIONS, "head_epochs": 1})
    worse_job = wait_for(worse_job, lambda j: j.status in jobs.FINISHED, 300, "finished", celery_worker)
    assert worse_job.status == "succeeded", worse_job.error
    worse = worse_job.result_version
    assert worse.status == "rejected", worse.gate_report
    report = worse.gate_report
    assert report["candidate"]["accuracy"] < report["active"]["accuracy"] == 1.0
    assert registry.active_version() == strong

    # rollback to the first candidate, then to v1
    registry.activate(candidate)
    assert registry.active_version() == candidate
    registry.activate(baseline)
    assert registry.active_version() == baseline
    assert ModelVersion.objects.filter(status="active").count() == 1


def test_cancel_a_running_job(celery_worker, baseline, admin_user):
    job = jobs.create_job(admin_user, epochs=1, input_size=TINY_INPUT, options=ENDLESS)
    wait_for(job, lambda j: j.status == "running" and j.history, 180, "reported an epoch", celery_worker)
    jobs.cancel_job(job, admin_user)
    job = wait_for(job, lambda j: j.status in jobs.FINISHED, 60, "stopped", celery_worker)
    assert job.status == "cancelled" and job.result_version is None
    assert list(ModelVersion.objects.all()) == [baseline]
    with pytest.raises(jobs.JobError, match="nothing to cancel"):
        jobs.cancel_job(job)


def test_cancel_a_queued_job_and_one_job_at_a_time(baseline, admin_user):
    job = jobs.create_job(admin_user, epochs=1, input_size=TINY_INPUT, options=TINY_OPTIONS)
    with pytest.raises(jobs.JobError, match="already queued"):
        jobs.create_job(admin_user)
    jobs.cancel_job(job, admin_user)
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert runner.run_job(job.pk) is None  # a worker taking it later does nothing


def test_bad_job_requests_are_refused(baseline, admin_user):
    with pytest.raises(jobs.JobError, match="epochs"):
        jobs.create_job(admin_user, epochs=1000)
    with pytest.raises(jobs.JobError, match="input size"):
        jobs.create_job(admin_user, input_size=33)
    with pytest.raises(jobs.JobError, match="unknown option"):
        jobs.create_job(admin_user, options={"rm": "-rf"})
    TrainingImage.objects.all().delete()
    with pytest.raises(jobs.JobError, match="pool is too small: 0 .with mask. training images"):
        jobs.create_job(admin_user)


def test_killed_worker_fails_the_job_and_leaves_the_active_model(worker_factory, baseline, admin_user):
    first = worker_factory(queues="training").start(wait=False)  # ping goes to `default`: not waited on
    sha_before = registry.artifact_path(baseline).read_bytes()
    job = jobs.create_job(admin_user, epochs=1, input_size=TINY_INPUT, options=ENDLESS)
    wait_for(job, lambda j: j.status == "running" and j.history, 180, "reported an epoch", first)
    first.kill()
    job.refresh_from_db()
    assert job.status == "running"  # nobody has noticed yet
    # the same node restarting notices at once; otherwise beat's reaper does after the heartbeat ages
    second = worker_factory(queues="training")
    second.name = first.name
    second.start(wait=False)
    job = wait_for(job, lambda j: j.status in jobs.FINISHED, 120, "was failed", second)
    assert job.status == "failed" and "heartbeat" in job.error
    assert list(ModelVersion.objects.all()) == [baseline]
    assert registry.active_version() == baseline
    assert registry.artifact_path(baseline).read_bytes() == sha_before
    assert not list(registry.models_dir().glob(".staging-*"))
    assert not jobs.work_dir(job).exists()


def test_reaper_fails_jobs_with_a_stale_heartbeat(baseline, admin_user):
    from datetime import timedelta

    from django.utils import timezone

    job = jobs.create_job(admin_user, epochs=1)
    old = timezone.now() - timedelta(seconds=jobs.STALE_AFTER_S + 5)
    TrainingJob.objects.filter(pk=job.pk).update(status="running", started_at=old, heartbeat_at=old)
    fresh = TrainingJob.objects.create(status="running", started_at=timezone.now(), heartbeat_at=timezone.now())
    assert jobs.reap_stale_jobs() == 1
    job.refresh_from_db()
    fresh.refresh_from_db()
    assert job.status == "failed" and fresh.status == "running"
