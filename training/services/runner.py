"""Running a training job in the `training` worker: claim it, train from the active version, register
the result as a candidate and let the promotion gate decide, with a heartbeat, the training code's log
lines in the job's log, progress after every epoch and cancellation checked after every batch.
"""

from __future__ import annotations

import csv
import logging
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from django.db import close_old_connections
from django.utils import timezone

from training.models import TrainingImage, TrainingJob
from training.services import jobs, registry

logger = logging.getLogger(__name__)

#: Seconds between two heartbeats of a running job (a heartbeat older than jobs.STALE_AFTER_S is lost).
HEARTBEAT_S = 5.0
#: Seconds between two cancellation checks of the training thread (it checks after every batch).
CANCEL_POLL_S = 0.5
#: What a user reads when a job fails for a reason no check foresaw (the traceback goes to the server log).
UNEXPECTED_FAILURE = "Training stopped on an unexpected error; an administrator can find the details in the server log."


class _Heartbeat(threading.Thread):
    """Writes heartbeat_at while the training blocks the main thread (cancellation: `CancelPoller`)."""

    def __init__(self, job_id: int) -> None:
        super().__init__(name=f"training-job-{job_id}-heartbeat", daemon=True)
        self.job_id = job_id
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            while not self.stop.wait(HEARTBEAT_S):
                TrainingJob.objects.filter(pk=self.job_id).update(heartbeat_at=timezone.now())
        except Exception:  # the job's own thread reports failures; a lost beat only ages the heartbeat
            logger.exception("heartbeat of training job %s stopped", self.job_id)
        finally:
            close_old_connections()


class CancelPoller:
    """`should_stop` for the training loop: asks the database whether the job was cancelled, at most
    every CANCEL_POLL_S, so a cancel takes effect after the current batch rather than the next
    heartbeat or epoch."""

    def __init__(self, job_id: int, interval: float = CANCEL_POLL_S) -> None:
        self.job_id, self.interval = job_id, interval
        self.checked_at = float("-inf")
        self.cancelled = False

    def __call__(self) -> bool:
        now = time.monotonic()
        if not self.cancelled and now - self.checked_at >= self.interval:
            self.checked_at = now
            self.cancelled = TrainingJob.objects.filter(pk=self.job_id, cancel_requested=True).exists()
        return self.cancelled


class _JobLogHandler(logging.Handler):
    """Copies the training code's log lines into the job's log."""

    def __init__(self, job: TrainingJob) -> None:
        super().__init__(logging.INFO)
        self.job = job

    def emit(self, record: logging.LogRecord) -> None:
        try:
            jobs.append_log(self.job, record.getMessage())
        except Exception:
            self.handleError(record)


def _write_manifest(job: TrainingJob) -> Path:
    """The pool as a manifest the training code reads; the pool's eval split is its val split."""
    folder = jobs.work_dir(job) / "data"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "manifest.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "label", "split"])
        until = job.created_at
        for image in TrainingImage.objects.filter(created_at__lte=until).order_by("id").iterator():
            split = "val" if image.split == TrainingImage.Split.EVAL else "train"
            writer.writerow([image.image.path, image.label, split])
    return folder


def run_job(job_id: int, worker: str = "") -> TrainingJob | None:
    """Train, register the candidate and put it through the gate; every outcome lands on the row."""
    from training.ml.train import TrainingCancelled

    job = _claim(job_id, worker)
    if job is None:
        return None
    with _supervised(job):
        try:
            _train_and_gate(job, worker)
            outcome, error = TrainingJob.Status.SUCCEEDED, ""
        except TrainingCancelled:
            outcome, error = TrainingJob.Status.CANCELLED, ""
        except Exception:
            logger.exception("training job %s failed", job.pk)  # the traceback: server log only
            outcome, error = TrainingJob.Status.FAILED, UNEXPECTED_FAILURE
    jobs.finish_job(job, outcome, error=error)
    job.refresh_from_db()
    return job


def _claim(job_id: int, worker: str) -> TrainingJob | None:
    """The job, marked running on `worker`; None when it is gone, cancelled, finished, or already
    running (a redelivered task: a job whose worker died is failed by the reaper instead)."""
    job = TrainingJob.objects.filter(pk=job_id).first()
    if job is None:
        logger.warning("training job %s no longer exists", job_id)
        return None
    now = timezone.now()
    if job.status == TrainingJob.Status.RUNNING:  # redelivered after its worker died
        jobs.reap_stale_jobs(worker=job.worker if job.worker == worker else None)
        return None
    started = TrainingJob.objects.filter(pk=job_id, status=TrainingJob.Status.QUEUED).update(
        status=TrainingJob.Status.RUNNING, started_at=now, heartbeat_at=now, worker=worker
    )
    if not started:
        return None  # cancelled (or already finished) before a worker took it
    job.refresh_from_db()
    return job


@contextmanager
def _supervised(job: TrainingJob) -> Iterator[None]:
    """While the job trains: a heartbeat, the training code's log lines in the job's log, and its
    work folder removed afterwards (before the outcome is published)."""
    heartbeat = _Heartbeat(job.pk)
    heartbeat.start()
    handler = _JobLogHandler(job)
    ml_logger = logging.getLogger("training.ml")
    ml_logger.addHandler(handler)
    ml_logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        ml_logger.removeHandler(handler)
        heartbeat.stop.set()
        heartbeat.join(timeout=HEARTBEAT_S * 2)
        shutil.rmtree(jobs.work_dir(job), ignore_errors=True)


def _train_and_gate(job: TrainingJob, worker: str) -> None:
    """Train from the active version (or ImageNet), register the result as a candidate and let the
    promotion gate decide; raises TrainingCancelled when the job is cancelled."""
    from training.ml.train import DEFAULT_INPUT_SIZE, TrainOptions, train_classifier

    parent = registry.active_version()
    input_size = job.input_size or (parent.input_size if parent else 0) or DEFAULT_INPUT_SIZE
    initial = registry.keras_path(parent) if parent and parent.input_size == input_size else None
    starting = f"{parent} (Keras)" if initial else "ImageNet weights"  # the header and the log say the same
    jobs.append_log(
        job,
        f"running on {worker or 'a worker'}: {input_size} px, {job.epochs} fine-tuning epochs, "
        f"starting from {starting}",
    )
    TrainingJob.objects.filter(pk=job.pk).update(
        input_size=input_size, parent_version=parent, starting_weights=starting
    )
    job.input_size, job.parent_version, job.starting_weights = input_size, parent, starting
    jobs.publish_job(job)

    options = TrainOptions(
        epochs=job.epochs,
        input_size=input_size,
        initial_model=initial,
        command=f"training job {job.pk} (MaskPortal)",
        **job.options,
    )
    result = train_classifier(
        _write_manifest(job),
        jobs.work_dir(job) / "out",
        options,
        on_epoch=partial(_epoch_done, job),
        should_stop=CancelPoller(job.pk),
    )
    candidate = registry.register_version(
        result.model_path,
        card=result.card,
        keras=result.keras_path,
        metrics={"training": result.metrics},
        job=job,
        parent=parent,
    )
    TrainingJob.objects.filter(pk=job.pk).update(result_version=candidate, progress=1.0)
    job.result_version = candidate
    jobs.append_log(
        job, f"registered {candidate} as a candidate; evaluating it against {parent or 'nothing'} on the evaluation set"
    )
    decided = registry.gate(candidate)
    jobs.append_log(job, f"{decided}: {decided.get_status_display().lower()} ({decided.gate_report.get('reason')})")


def _epoch_done(job: TrainingJob, epoch: int, entry: dict) -> None:
    """An epoch's figures into the job's history, progress, heartbeat and log, and to its watchers."""
    job.history = [*job.history, entry]
    job.progress = min(1.0, epoch / max(1, entry.get("epochs", epoch)))
    TrainingJob.objects.filter(pk=job.pk).update(
        history=job.history, progress=job.progress, heartbeat_at=timezone.now()
    )
    jobs.append_log(
        job,
        "epoch {epoch}/{epochs} ({phase}): ".format(**entry)
        + ", ".join(f"{k} {v:.4f}" for k, v in entry.items() if k not in ("epoch", "epochs", "phase")),
    )
    jobs.publish_job(job)
