"""Training jobs: queue one, cancel it, fail it when its worker dies (running it: `runner`).

A running job (`training.services.runner`) writes a heartbeat every few seconds; a job whose heartbeat
went stale (its worker was killed) is marked failed by `reap_stale_jobs`, which beat runs every
minute, every worker runs when it starts, and the job pages run when they load. The reaper also
sends again a queued job whose task never started (the broker was down when it was created, or
its message was lost), and rejects the candidate a job left behind when it died during its
promotion check. The training
code writes its files to a staging folder and renames them, and the registry copies them the
same way, so a killed job never leaves a half-written model and never touches the active one.
"""

from __future__ import annotations

import logging
import shutil
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.audit import record
from accounts.models import AuditEvent
from detection.services.stats import RECENT, job_summary
from maskportal import realtime
from maskportal.enqueue import enqueue
from maskportal.outages import queue_length, send
from training.ml.train import ARCHITECTURES
from training.models import TrainingImage, TrainingJob, TrainingSettings
from training.services import registry

logger = logging.getLogger(__name__)

RUN_JOB_TASK = "training.tasks.run_training_job"
#: A running job whose heartbeat is older than this is considered lost.
STALE_AFTER_S = float(getattr(settings, "TRAINING_HEARTBEAT_TIMEOUT_S", 60))
#: Fields of `training.ml.train.TrainOptions` a job may set through `TrainingJob.options`.
ALLOWED_OPTIONS = {"head_epochs": int, "batch_size": int, "imagenet": bool, "seed": int, "architecture": str}
INPUT_SIZES = (32, 64, 96, 128, 160, 192, 224)
MAX_EPOCHS = 100
#: The least pool a job may train on (settings TRAINING_MIN_TRAIN_PER_CLASS / _EVAL_PER_CLASS):
#: per class in the train split, and per class in the evaluation split, whose figures decide the
#: promotion gate and mean little on a handful.
MIN_TRAIN_PER_CLASS = 50
MIN_EVAL_PER_CLASS = 25
FINISHED = (TrainingJob.Status.SUCCEEDED, TrainingJob.Status.FAILED, TrainingJob.Status.CANCELLED)
IN_PROGRESS = (TrainingJob.Status.QUEUED, TrainingJob.Status.RUNNING)
QUEUE = "training"
#: Seconds a queued job may wait for its message to be sent before the reaper sends it again.
QUEUE_GRACE_S = 5


class JobError(ValueError):
    """A job cannot be created or changed as asked; the message says why."""


def work_dir(job: TrainingJob) -> Path:
    return Path(settings.VAR_DIR) / "training" / f"job-{job.pk}"


def _clean_options(options: dict | None) -> dict:
    clean = {}
    for key, value in (options or {}).items():
        kind = ALLOWED_OPTIONS.get(key)
        if kind is None:
            raise JobError(f"unknown option {key!r}; allowed: {', '.join(sorted(ALLOWED_OPTIONS))}")
        if kind is int and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise JobError(f"option {key} must be a non-negative integer")
        if kind is bool and not isinstance(value, bool):
            raise JobError(f"option {key} must be true or false")
        if key == "architecture" and value not in ARCHITECTURES:
            raise JobError(f"option architecture must be one of {', '.join(ARCHITECTURES)}")
        clean[key] = value
    return clean


def pool_shortfalls() -> list[str]:
    """Why the pool cannot train a job yet, one sentence per class and split (empty: it can)."""
    from training.services.pool import stats

    counts = stats()
    min_train = int(getattr(settings, "TRAINING_MIN_TRAIN_PER_CLASS", MIN_TRAIN_PER_CLASS))
    min_eval = int(getattr(settings, "TRAINING_MIN_EVAL_PER_CLASS", MIN_EVAL_PER_CLASS))
    reasons = []
    for label, name in TrainingImage.Label.choices:
        have = counts[TrainingImage.Split.TRAIN][label]
        if have < min_train:
            reasons.append(
                f"{have} '{name.lower()}' training image{'s' if have != 1 else ''}, at least {min_train} needed"
            )
        have = counts[TrainingImage.Split.EVAL][label]
        if have < min_eval:
            reasons.append(
                f"{have} '{name.lower()}' evaluation image{'s' if have != 1 else ''}, "
                f"at least {min_eval} needed for the evaluation to mean something"
            )
    return reasons


def create_job(
    user=None,
    *,
    epochs: int | None = None,
    input_size: int = 0,
    trigger: str = "manual",
    options: dict | None = None,
) -> TrainingJob:
    """Queue a training job on the `training` queue; one job at a time."""
    epochs = TrainingSettings.current().default_epochs if epochs is None else epochs
    if not 0 <= epochs <= MAX_EPOCHS:
        raise JobError(f"epochs must be between 0 and {MAX_EPOCHS}")
    if input_size and input_size not in INPUT_SIZES:
        raise JobError(f"input size must be one of {', '.join(map(str, INPUT_SIZES))} (or 0: the active model's)")
    options = _clean_options(options)
    registry.register_committed_model()
    reap_stale_jobs()
    if TrainingJob.objects.filter(status__in=IN_PROGRESS).exists():
        raise JobError("a training job is already queued or running; wait for it or cancel it")
    shortfalls = pool_shortfalls()
    if shortfalls:
        raise JobError("The training pool is too small: " + "; ".join(shortfalls) + ".")
    job = TrainingJob.objects.create(
        created_by=user if user is not None and user.is_authenticated else None,
        trigger=trigger,
        epochs=epochs,
        input_size=input_size,
        options=options,
        parent_version=registry.active_version(),
    )
    append_log(job, f"queued ({trigger}) by {getattr(user, 'username', None) or 'the scheduler'}")
    record(
        AuditEvent.Kind.TRAINING_STARTED,
        obj=job,
        object_repr=f"Training job {job.pk}",
        actor=job.created_by,
        trigger=trigger,
        epochs=epochs,
        input_size=input_size or None,
        options=options,
    )
    transaction.on_commit(lambda: send_job(job), robust=True)  # never undoes the committed job
    publish_job(job)
    return job


def send_job(job: TrainingJob) -> bool:
    """Send the job's task; while the broker is unreachable the job stays queued and the reaper
    sends it once the broker is back. Returns whether it was sent."""
    result = []
    if not send(lambda: result.append(enqueue(RUN_JOB_TASK, job.pk)), f"training job {job.pk}"):
        return False
    TrainingJob.objects.filter(pk=job.pk).update(celery_task_id=result[0].id)
    return True


def cancel_job(job: TrainingJob, user=None) -> TrainingJob:
    """Cancel a queued job at once; ask a running one to stop after its current batch."""
    now = timezone.now()
    if TrainingJob.objects.filter(pk=job.pk, status=TrainingJob.Status.QUEUED).update(
        status=TrainingJob.Status.CANCELLED, cancel_requested=True, finished_at=now
    ):
        job.refresh_from_db()
        append_log(job, f"cancelled before it started by {getattr(user, 'username', '?')}")
        _audit_cancel(job, user, "before it started")
        publish_job(job)
        return job
    if TrainingJob.objects.filter(pk=job.pk, status=TrainingJob.Status.RUNNING).update(cancel_requested=True):
        job.refresh_from_db()
        append_log(job, f"cancellation requested by {getattr(user, 'username', '?')}")
        _audit_cancel(job, user, "while running")
        return job
    job.refresh_from_db()
    raise JobError(f"job {job.pk} is {job.get_status_display().lower()}: nothing to cancel")


def _audit_cancel(job: TrainingJob, user, when: str) -> None:
    record(
        AuditEvent.Kind.TRAINING_CANCELLED,
        obj=job,
        object_repr=f"Training job {job.pk}",
        actor=user if getattr(user, "is_authenticated", False) else None,
        when=when,
    )


def reap_stale_jobs(stale_after_s: float = STALE_AFTER_S, *, worker: str | None = None) -> int:
    """Fail running jobs whose worker stopped sending heartbeats (or, given `worker`, that this
    restarted worker node was running when it died). Returns how many were failed."""
    limit = timezone.now() - timedelta(seconds=stale_after_s)
    running = TrainingJob.objects.filter(status=TrainingJob.Status.RUNNING)
    lost = running.filter(heartbeat_at__lt=limit) | running.filter(heartbeat_at__isnull=True, started_at__lt=limit)
    if worker:
        lost = lost | running.filter(worker=worker)
    count = 0
    for job in lost.distinct():
        shutil.rmtree(work_dir(job), ignore_errors=True)  # before the status says so: nothing left behind
        if finish_job(
            job,
            TrainingJob.Status.FAILED,
            error="the worker running this job stopped (no heartbeat)",
            only_if=TrainingJob.Status.RUNNING,
        ):
            logger.warning("training job %s failed: worker %s lost", job.pk, job.worker or "?")
            count += 1
    resend_unstarted_jobs()
    registry.reject_orphan_candidates()
    return count


def resend_unstarted_jobs() -> int:
    """Send again the queued jobs no worker will start: never sent (the broker was down), or whose
    message is no longer in the training queue (lost). A job whose message waits is left alone; a
    second message for one job is harmless (only one run can claim it). Returns how many were sent."""
    grace = timezone.now() - timedelta(seconds=QUEUE_GRACE_S)
    queued = TrainingJob.objects.filter(status=TrainingJob.Status.QUEUED, created_at__lt=grace)
    unsent = list(queued.filter(celery_task_id=""))
    if queued.exclude(celery_task_id="").exists() and queue_length(QUEUE) == 0:
        unsent += list(queued.exclude(celery_task_id=""))
    sent = 0
    for job in unsent:
        if send_job(job):
            append_log(job, "queued again: its task had not reached a worker")
            sent += 1
    return sent


def append_log(job: TrainingJob, line: str) -> None:
    """A timestamped line at the end of the job's log."""
    stamp = timezone.now().strftime("%H:%M:%S")
    job.log = f"{job.log}{stamp} {line}\n"
    TrainingJob.objects.filter(pk=job.pk).update(log=job.log)


def publish_job(job: TrainingJob, **extra) -> None:
    """The job's progress to the user who started it."""
    if job.created_by_id is None:
        return
    done = len(job.history)
    total = job.history[-1]["epochs"] if job.history else 0
    realtime.publish(
        realtime.user_group(job.created_by_id),
        realtime.progress_message(
            job=job.pk,
            kind="training",
            done=done,
            total=total,
            status=job.status,
            progress=round(job.progress, 4),
            epoch=job.history[-1] if job.history else None,
            **extra,
        ),
    )


def finish_job(job: TrainingJob, status: str, *, error: str = "", only_if: str | None = None) -> bool:
    """End the job with `status` (only from `only_if` when given); False when it had moved on."""
    rows = TrainingJob.objects.filter(pk=job.pk)
    if only_if:
        rows = rows.filter(status=only_if)
    if not rows.update(status=status, error=error, finished_at=timezone.now()):
        return False
    job.refresh_from_db()
    append_log(job, f"{status}" + (f": {error}" if error else ""))
    result = job.result_version
    extra = {"version": result.number, "version_status": result.status} if result is not None else {}
    publish_job(job, error=error, **extra)
    return True


def dashboard_jobs(user) -> list[dict]:
    """Recent training jobs for the dashboard's Jobs panel (registered in TrainingConfig.ready)."""
    if user is None or not user.has_perm("training.view_trainingjob"):
        return []
    return [
        job_summary(
            job,
            kind="training",
            label=f"Training job {job.pk}",
            owner=getattr(job.created_by, "username", None),
            url=reverse("training:job_detail", args=[job.pk]),
            progress=(round(job.progress * 100), 0, 100),
        )
        for job in TrainingJob.objects.select_related("created_by").order_by("-created_at")[:RECENT]
    ]


# --- scheduled retraining -----------------------------------------------------------------


def new_images_since_active() -> int:
    """Labelled images that arrived after the active version's training data was taken."""
    from training.services.pool import new_images_since

    active = registry.active_version()
    if active is None:
        return new_images_since(None)
    since = active.job.created_at if active.job is not None else active.created_at
    return new_images_since(since)


def maybe_retrain(min_new_images: int) -> TrainingJob | None:
    """Start a scheduled job only past the threshold and when no job is in progress."""
    registry.register_committed_model()
    waiting = new_images_since_active()
    if waiting < min_new_images:
        logger.info("scheduled retraining: %d new image(s), threshold %d: nothing to do", waiting, min_new_images)
        return None
    if TrainingJob.objects.filter(status__in=IN_PROGRESS).exists():
        logger.info("scheduled retraining: a job is already in progress")
        return None
    shortfalls = pool_shortfalls()
    if shortfalls:
        logger.info("scheduled retraining: the pool is too small (%s)", "; ".join(shortfalls))
        return None
    job = create_job(None, trigger="schedule")
    logger.info("scheduled retraining: %d new image(s) >= %d: job %s queued", waiting, min_new_images, job.pk)
    return job
