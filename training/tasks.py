"""Thin Celery tasks of the training app; the work is in training.services."""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

from celery import shared_task
from celery.signals import worker_ready

from maskportal import realtime
from training.services import jobs, pool, runner

logger = logging.getLogger(__name__)


@shared_task(name=jobs.RUN_JOB_TASK, bind=True, acks_late=True)
def run_training_job(self, job_id: int) -> str | None:
    job = runner.run_job(job_id, worker=self.request.hostname or "")
    return job.status if job else None


@shared_task(name="training.tasks.reap_stale_jobs")
def reap_stale_jobs() -> int:
    return jobs.reap_stale_jobs()


@shared_task(name="training.tasks.scheduled_retraining")
def scheduled_retraining(min_new_images: int = 200) -> int | None:
    job = jobs.maybe_retrain(int(min_new_images))
    return job.pk if job else None


@shared_task(name="training.tasks.import_training_data", bind=True)
def import_training_data(self, path: str, user_id: int | None = None, is_zip: bool = False) -> dict:
    """Import a ZIP (deleted afterwards) or a server folder into the pool, with progress messages."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    job_key = f"import-{self.request.id or Path(path).name}"

    def progress(report: pool.ImportReport, total: int) -> None:
        if user_id:
            realtime.publish(
                realtime.user_group(user_id),
                realtime.progress_message(
                    job=job_key,
                    kind="import",
                    done=report.total,
                    total=total,
                    failed=len(report.errors),
                    status="running" if report.total < total else "succeeded",
                    added=report.added,
                    duplicates=report.duplicates,
                ),
            )

    try:
        if is_zip:
            with zipfile.ZipFile(path) as archive:
                items = list(pool.iter_zip(archive))
                report = pool.import_items(items, added_by=user, total=len(items), progress=progress)
        else:
            total = pool.count_images(Path(path))
            report = pool.import_items(pool.iter_folder(Path(path)), added_by=user, total=total, progress=progress)
    except (pool.PoolError, zipfile.BadZipFile, OSError) as exc:
        logger.warning("import of %s failed: %s", path, exc)
        if user_id:
            realtime.publish(
                realtime.user_group(user_id),
                realtime.progress_message(job=job_key, kind="import", done=0, total=0, status="failed", error=str(exc)),
            )
        return {"error": str(exc)}
    finally:
        if is_zip:
            Path(path).unlink(missing_ok=True)
    return report.as_dict()


@worker_ready.connect
def _reap_on_start(sender=None, **kwargs) -> None:
    """A restarted worker fails the jobs it was running when it died, without waiting for beat."""
    try:
        jobs.reap_stale_jobs(worker=getattr(sender, "hostname", None))
    except Exception:  # the database may be unreachable at start: beat's reaper catches up later
        logger.exception("could not reap stale training jobs at worker start")
