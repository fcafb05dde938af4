"""Training guardrails: a minimum pool per class and split, failures as a sentence (traceback to the
server log), cancellation after the current batch, one account of the starting weights, and model
cards rendered as sanitised HTML."""

from __future__ import annotations

import logging
import time

import pytest
from django.test import override_settings

from tests.training.support import TINY_INPUT, TINY_OPTIONS, constant_model, empty_registry, tiny_pool
from training.models import ModelVersion, TrainingJob
from training.services import jobs, registry, runner

pytestmark = pytest.mark.django_db

STRICT = {"TRAINING_MIN_TRAIN_PER_CLASS": 5, "TRAINING_MIN_EVAL_PER_CLASS": 3}


@pytest.fixture
def active_v1(tmp_path):
    """An active v1 at the tiny input size, and a pool that meets the test minimums."""
    empty_registry()
    tiny_pool(per_class=8, eval_per_class=3)
    return registry.register_version(constant_model(tmp_path / "v1" / "m.tflite", 0.05), status="active")


@override_settings(**STRICT)
def test_a_small_pool_disables_the_form_and_says_why(admin_client):
    empty_registry()
    tiny_pool(per_class=4, eval_per_class=2)  # 2 training and 2 evaluation images per class
    page = admin_client.get("/training/jobs/").content.decode()
    assert 'id="job-submit" disabled' in page
    assert "2 &#x27;with mask&#x27; training images, at least 5 needed" in page
    assert "2 &#x27;without mask&#x27; evaluation images, at least 3 needed for the evaluation" in page
    response = admin_client.post("/training/jobs/new/", {"epochs": 1, "input_size": 0}, follow=True)
    assert "The training pool is too small" in response.content.decode()
    assert not TrainingJob.objects.exists()


@override_settings(**STRICT)
def test_a_scheduled_retraining_waits_for_a_large_enough_pool():
    empty_registry()
    tiny_pool(per_class=4, eval_per_class=1)
    assert jobs.maybe_retrain(0) is None and not TrainingJob.objects.exists()


@override_settings(**STRICT)
def test_a_pool_that_meets_the_minimums_enables_the_form(admin_client, active_v1):
    page = admin_client.get("/training/jobs/").content.decode()
    assert 'id="job-submit">' in page and 'id="job-shortfalls"' not in page


def test_a_failure_is_a_sentence_and_the_traceback_goes_to_the_server_log(
    active_v1, admin_user, admin_client, monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise FileNotFoundError(2, "No such file", "/srv/maskportal/var/secret/weights.keras")

    monkeypatch.setattr("training.ml.train.train_classifier", broken)
    job = jobs.create_job(admin_user, epochs=1, input_size=TINY_INPUT, options=TINY_OPTIONS)
    with caplog.at_level(logging.ERROR, logger="training.services.runner"):
        runner.run_job(job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and job.error == runner.UNEXPECTED_FAILURE
    page = admin_client.get(f"/training/jobs/{job.pk}/").content.decode()
    assert "/srv/maskportal" not in page and "Traceback" not in page and "FileNotFoundError" not in page
    assert "/srv/maskportal" in caplog.text and "Traceback" in caplog.text


def test_the_header_and_the_log_agree_on_the_starting_weights(active_v1, admin_user, admin_client, monkeypatch):
    monkeypatch.setattr("training.ml.train.train_classifier", lambda *a, **k: (_ for _ in ()).throw(RuntimeError()))
    job = jobs.create_job(admin_user, epochs=1, input_size=64, options=TINY_OPTIONS)  # v1 is 32 px: ImageNet
    runner.run_job(job.pk)
    job.refresh_from_db()
    assert "starting from ImageNet weights" in job.log and job.starting_weights == "ImageNet weights"
    page = admin_client.get(f"/training/jobs/{job.pk}/").content.decode()
    header = page.split('id="job-starting">', 1)[1].split("</span>", 1)[0]
    assert header == "starting from ImageNet weights" and "v1" not in header


def test_cancel_is_seen_within_the_poll_interval(active_v1, admin_user):
    job = jobs.create_job(admin_user, epochs=1, input_size=TINY_INPUT, options=TINY_OPTIONS)
    TrainingJob.objects.filter(pk=job.pk).update(status="running")
    should_stop = runner.CancelPoller(job.pk, interval=0.2)
    assert should_stop() is False
    jobs.cancel_job(TrainingJob.objects.get(pk=job.pk), user=admin_user)
    assert should_stop() is False  # asked less than an interval ago: no query on every batch
    time.sleep(0.25)
    assert should_stop() is True
    assert runner.CANCEL_POLL_S <= 1.0  # "within a couple of seconds": after the batch running then


def test_model_cards_render_as_sanitised_html(staff_client, active_v1):
    ModelVersion.objects.filter(pk=active_v1.pk).update(
        model_card="# Mask classifier v1\n\n| metric | value |\n|---|---|\n| accuracy | 0.97 |\n\n"
        '<script>alert("x")</script>\n\n[docs](javascript:alert(1))'
    )
    page = staff_client.get(f"/training/models/{active_v1.pk}/").content.decode()
    card = page.split('id="model-card">', 1)[1].split("</div>", 1)[0]
    assert "<h1>Mask classifier v1</h1>" in card and "<table>" in card and "<td>0.97</td>" in card
    assert "<script" not in card and "javascript:" not in card
