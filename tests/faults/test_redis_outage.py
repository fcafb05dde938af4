"""Redis down: work submitted meanwhile is kept and runs when it is back, analysis goes on from the
last known model and gallery, and sockets tell the browser instead of dropping in silence."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
import redis
from channels.testing import WebsocketCommunicator
from django.core.files.uploadedfile import SimpleUploadedFile

from detection.models import BatchJob, DetectionLog
from detection.services import batches, engine
from tests.faults.conftest import wait_for

pytestmark = pytest.mark.faults


def _finished(batch_id: int) -> bool:
    return BatchJob.objects.get(pk=batch_id).status not in batches.ACTIVE


def test_a_batch_submitted_while_redis_is_down_is_kept_and_runs_when_it_is_back(
    classifier, face_jpeg, redis_backends, own_redis_workers, token_client
):
    redis_backends.stop()
    files = [SimpleUploadedFile(f"p{i}.jpg", face_jpeg, content_type="image/jpeg") for i in range(20)]
    response = token_client.post("/api/v1/batches/", {"files": files, "mode": "fast"}, format="multipart")
    assert response.status_code == 201, response.content
    batch = BatchJob.objects.get(pk=response.json()["id"])
    items = list(batch.items.all())
    assert len(items) == 20 and all(item.upload and item.upload.storage.exists(item.upload.name) for item in items)
    assert all(item.queued_at is None for item in items)  # accepted, waiting for the broker

    redis_backends.start()
    worker = own_redis_workers().start()  # a starting worker runs the recovery sweep (so does beat)
    back = time.monotonic()
    wait_for(lambda: _finished(batch.pk), timeout=120, what=f"the batch to finish\n{worker.output()}")
    resumed_in = time.monotonic() - back
    batch.refresh_from_db()
    assert (batch.status, batch.done, batch.failed) == ("succeeded", 20, 0)
    assert DetectionLog.objects.filter(batch=batch).count() == 20  # nothing lost, nothing twice
    assert resumed_in < 60


def test_a_training_job_created_while_redis_is_down_is_sent_by_the_reaper(
    redis_backends, admin_token_client, transactional_db, settings
):
    from training.models import TrainingImage, TrainingJob
    from training.services import jobs

    settings.TRAINING_MIN_TRAIN_PER_CLASS = settings.TRAINING_MIN_EVAL_PER_CLASS = 1
    for n, (label, split) in enumerate(
        [(label, split) for label in ("with_mask", "without_mask") for split in ("train", "eval")]
    ):
        TrainingImage.objects.create(
            image=f"training/images/{n}.jpg", label=label, source="upload", split=split, content_hash=f"{n:064d}"
        )
    redis_backends.stop()
    response = admin_token_client.post("/api/v1/training-jobs/", {"epochs": 0}, format="json")
    assert response.status_code == 201, response.content
    job = TrainingJob.objects.get(pk=response.json()["id"])
    assert (job.status, job.celery_task_id) == ("queued", "")

    redis_backends.start()
    TrainingJob.objects.filter(pk=job.pk).update(created_at=job.created_at - timedelta(seconds=60))
    jobs.reap_stale_jobs()  # beat runs it every minute; a starting worker too
    job.refresh_from_db()
    assert job.celery_task_id, "the reaper did not send the job's task"
    waiting = redis.Redis.from_url(redis_backends.url()).lrange("training", 0, -1)
    assert [json.loads(m)["headers"]["id"] for m in waiting] == [job.celery_task_id]
    jobs.reap_stale_jobs()  # its message now waits in the queue: not sent a second time
    assert redis.Redis.from_url(redis_backends.url()).llen("training") == 1


def test_analysis_goes_on_without_redis(classifier, face_jpeg, redis_backends, token_client, transactional_db):
    image = SimpleUploadedFile("a.jpg", face_jpeg, content_type="image/jpeg")
    assert token_client.post("/api/v1/analyze/", {"image": image}, format="multipart").status_code == 201
    redis_backends.stop()
    time.sleep(engine.CHECK_INTERVAL_S + 0.1)  # the next analysis looks for new model and gallery versions
    started = time.monotonic()
    for _ in range(3):
        image = SimpleUploadedFile("a.jpg", face_jpeg, content_type="image/jpeg")
        response = token_client.post("/api/v1/analyze/", {"image": image}, format="multipart")
        assert response.status_code == 201, response.content
        assert response.json()["faces"]
    assert time.monotonic() - started < 15


def test_an_outage_met_by_a_request_is_a_503_with_retry_after(redis_backends):
    """Where a request really needs Redis and meets the outage, the API answers JSON 503 with
    Retry-After and pages a short 503 page, never an HTML 500 (the error is the real one)."""
    from django.core.cache import cache
    from django.test import RequestFactory

    from maskportal.outages import ServiceUnavailableMiddleware

    redis_backends.stop()
    with pytest.raises(Exception) as error:
        cache.get("anything")
    middleware = ServiceUnavailableMiddleware(lambda request: None)
    api = middleware.process_exception(RequestFactory().get("/api/v1/batches/"), error.value)
    assert (api.status_code, api["Content-Type"], api["Retry-After"]) == (503, "application/json", "10")
    assert "Redis" in json.loads(api.content)["detail"]
    page = middleware.process_exception(RequestFactory().get("/batches/"), error.value)
    assert page.status_code == 503 and b"Temporarily unavailable" in page.content and b"Traceback" not in page.content


@pytest.mark.django_db(transaction=True)
async def test_the_notification_socket_tells_the_browser_redis_is_down(redis_backends, staff_user):
    from accounts.consumers import NotificationConsumer

    redis_backends.stop()
    communicator = WebsocketCommunicator(NotificationConsumer.as_asgi(), "/ws/notifications/")
    communicator.scope["user"] = staff_user
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    message = await communicator.receive_json_from(timeout=10)
    assert message["type"] == "error" and message["code"] == "realtime_unavailable"
    closed = await communicator.receive_output(timeout=10)
    assert closed == {"type": "websocket.close", "code": 1013}  # "try again later" (RFC 6455)

    redis_backends.start()
    communicator = WebsocketCommunicator(NotificationConsumer.as_asgi(), "/ws/notifications/")
    communicator.scope["user"] = staff_user
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    await communicator.send_json_to({"type": "ping", "id": 1})
    assert (await communicator.receive_json_from(timeout=10))["type"] == "pong"
    await communicator.disconnect()


def test_the_browser_backs_off_to_a_few_seconds_at_most():
    """The notification and live sockets retry with a back-off capped at a few seconds, so a page
    is live again within seconds of the service's return (it was capped at 30 s)."""
    import re

    from django.conf import settings

    for script in ("realtime.js", "live.js"):
        source = (settings.BASE_DIR / "static" / "js" / script).read_text()
        caps = re.findall(r"(?:MAX_RETRY_MS = |Math\.min\(retryMs \* 2, )(\d+)", source)
        assert caps and max(map(int, caps)) <= 5000, script
