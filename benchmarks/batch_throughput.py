"""Batch throughput: 640x480 photos with one face, recognition on, through real Celery workers.

usage: DATABASE_URL=postgres://... REDIS_URL=redis://... \
       python benchmarks/batch_throughput.py [--images 600] [--repeat 3] [--workers 1 2] [--mode fast]

For each worker count: start that many `celery worker -Q batch,default -c 1` processes on a
throwaway database, warm them up with a small batch, then time --repeat batches of --images photos,
each from the moment it is queued until the last item is done, and report the median rate (a shared
2-core machine varies by about 10% from run to run). Targets: >= 30 images/s with one worker in
fast mode; 2 workers >= 1.8x one worker. Prints one JSON line per worker count.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from _django import enrol_astronaut, photos, throwaway_database


def run(images: list[bytes], workers: int, mode: str, repeat: int) -> dict:
    from django.conf import settings

    from detection.models import BatchJob
    from detection.services import batches
    from detection.services.uploads import UploadItem
    from tests.conftest import WorkerProcess, purge_broker
    from tests.factories import UserFactory

    purge_broker()
    procs = [WorkerProcess(queues="batch,default", concurrency=1) for _ in range(workers)]
    for proc in procs:
        proc.start(wait=False)
    try:
        for proc in procs:
            proc.wait_ready(timeout=180)
        user = UserFactory()

        def batch_of(data: list[bytes]) -> tuple[BatchJob, float]:
            batch = batches.create_batch(user, [UploadItem(f"{i}.jpg", d) for i, d in enumerate(data)], mode=mode)
            queued = time.perf_counter()
            while BatchJob.objects.get(pk=batch.pk).status in batches.ACTIVE:
                time.sleep(0.05)
            return BatchJob.objects.get(pk=batch.pk), time.perf_counter() - queued

        batch_of(images[: 8 * workers])  # every worker loads its models
        runs = [batch_of(images) for _ in range(repeat)]
        rates = sorted(batch.done / seconds for batch, seconds in runs)
        return {"workers": workers, "mode": mode, "images": len(images), "runs": len(runs),
                "done": min(batch.done for batch, _ in runs), "failed": max(batch.failed for batch, _ in runs),
                "images_per_s": round(float(statistics.median(rates)), 1), "all_runs": [round(r, 1) for r in rates],
                "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
                "broker": settings.CELERY_BROKER_URL.split(":", 1)[0]}  # fmt: skip
    finally:
        for proc in procs:
            proc.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=600)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--mode", default="fast", choices=["fast", "accurate"])
    args = parser.parse_args()
    with throwaway_database():
        enrol_astronaut(args.mode)
        images = photos(args.images)
        results = []
        for workers in args.workers:
            results.append(run(images, workers, args.mode, args.repeat))
            print(json.dumps(results[-1]), flush=True)
        if len(results) > 1:
            print(json.dumps({"scaling": round(results[-1]["images_per_s"] / results[0]["images_per_s"], 2)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
