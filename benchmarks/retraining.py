"""Full retraining: the shared training set through a real `training` Celery worker, then the gate.

usage: nice -n 10 python benchmarks/retraining.py [--epochs 8] [--data DIR] [--out FILE]

On a throwaway database (v1 = the committed classifier, registered by the data migration):
import ../shared/datasets/mask-classification into the pool (its manifest's val split becomes the
pool's evaluation set), queue one job as the app does, time it from queued to finished, and
report the promotion gate's figures (candidate vs v1 on the same evaluation set). Then measure
hot reload: how long a second process takes to switch after an activation.
Targets: the job finishes in <= 30 min on this machine; the candidate is at least as accurate as
v1 on the evaluation set; a second process switches within 5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _django import REPO, throwaway_database
from report import write_report

DATA = REPO.parent / "shared" / "datasets" / "mask-classification"


def hot_reload_seconds(db_name: str, target) -> float:
    """Activate `target` and time until a separate process's pipeline serves it."""
    from django.conf import settings

    from tests.training.test_registry_hot_reload import WATCHER
    from training.services import registry

    env = dict(os.environ, MASKPORTAL_VAR_DIR=str(settings.VAR_DIR), MASKPORTAL_TEST_DB_NAME=db_name)
    path = str(registry.artifact_path(target))
    proc = subprocess.Popen([sys.executable, "-c", WATCHER, path], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().startswith("ready")
        started = time.monotonic()
        registry.activate(target)
        assert proc.stdout.readline().startswith("switched")
        return round(time.monotonic() - started, 2)
    finally:
        proc.kill()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"{args.data} is absent: this benchmark needs the shared training set")

    with throwaway_database() as db_name:
        from tests.conftest import WorkerProcess, purge_broker
        from tests.factories import AdminFactory
        from training.models import TrainingJob
        from training.services import jobs, pool, registry

        v1 = registry.active_version() or registry.register_committed_model()
        assert v1 is not None, "no committed classifier to compare with"
        started = time.monotonic()
        report = pool.import_items(pool.iter_folder(args.data))
        import_s = time.monotonic() - started
        print(
            f"imported {report.added} images ({report.duplicates} duplicates, {len(report.errors)} failed) "
            f"in {import_s:.0f} s",
            flush=True,
        )

        purge_broker()
        worker = WorkerProcess(queues="training").start(wait=False)
        try:
            job = jobs.create_job(AdminFactory(), epochs=args.epochs)
            queued = time.monotonic()
            while job.status not in jobs.FINISHED:
                time.sleep(5)
                job.refresh_from_db()
                if job.history:
                    print(
                        f"\r{job.status} epoch {len(job.history)}/{job.history[-1]['epochs']} "
                        f"{time.monotonic() - queued:.0f} s",
                        end="",
                        flush=True,
                    )
            job_s = time.monotonic() - queued
        finally:
            worker.stop()
        print()
        job = TrainingJob.objects.select_related("result_version").get(pk=job.pk)
        if job.status != "succeeded":
            sys.exit(f"job {job.status}: {job.error}\n{job.log[-3000:]}\n{worker.output()}")
        candidate = job.result_version
        other = v1 if candidate.status == "active" else candidate
        switch_s = hot_reload_seconds(db_name, other)
        result = {
            "images": report.added,
            "eval_images": candidate.gate_report.get("eval_images"),
            "import_s": round(import_s, 1),
            "job_s": round(job_s, 1),
            "job_target_s": 1800,
            "epochs": args.epochs,
            "input_size": candidate.input_size,
            "candidate": candidate.gate_report.get("candidate"),
            "v1": candidate.gate_report.get("active"),
            "gate": candidate.gate_report.get("reason"),
            "candidate_status": candidate.status,
            "hot_reload_switch_s": switch_s,
            "load average at the end": round(os.getloadavg()[0], 1),
        }
        print(json.dumps(result, indent=1))
        write_report(
            "retraining",
            "Full retraining on the shared mask-classification set",
            result,
            targets={"job_s": "<= 1800", "hot_reload_switch_s": "<= 5"},
        )


if __name__ == "__main__":
    main()
