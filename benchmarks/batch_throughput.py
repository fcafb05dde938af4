"""Batch throughput: 640x480 photos with one face, recognition on, through real Celery workers.

usage: DATABASE_URL=postgres://... REDIS_URL=redis://... \
       python benchmarks/batch_throughput.py [--images 600] [--repeat 3] [--workers 1 2] [--mode fast]

Each of --repeat rounds times one batch of --images photos for every worker count in turn: start
that many `celery worker -Q batch,default -c 1` processes on a throwaway database, warm them up with
a small batch, then time the batch from the moment it is queued until the last item is done. The
rounds alternate the worker counts because a shared 2-core machine's speed drifts by 20-30% from
minute to minute: each round's ratio compares runs a minute apart, and the scaling reported is the
median of the rounds' ratios. Targets: >= 30 images/s with one worker in fast mode; 2 workers
>= 1.8x one worker. Prints one JSON line per worker count, then the scaling.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time

from _django import enrol_astronaut, photos, throwaway_database
from report import write_report


def run(images: list[bytes], workers: int, mode: str) -> tuple[int, int, float]:
    """One timed batch on `workers` fresh worker processes: (done, failed, images per second)."""
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

        # Models load on a worker's first chunk: warm up until every worker has run one.
        for _ in range(10):
            batch_of(images[: batches.CHUNK_SIZE * workers])
            if all(re.search(r"run_batch_chunk\[[^]]+\] succeeded", proc.output()) for proc in procs):
                break
        else:
            raise SystemExit("a worker ran no warm-up chunk")
        batch, seconds = batch_of(images)
        return batch.done, batch.failed, batch.done / seconds
    finally:
        for proc in procs:
            proc.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=600)
    parser.add_argument("--repeat", type=int, default=3, help="rounds; each times every worker count once")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--mode", default="fast", choices=["fast", "accurate"])
    args = parser.parse_args()
    with throwaway_database():
        from django.conf import settings

        enrol_astronaut(args.mode)
        images = photos(args.images)
        rounds = [{workers: run(images, workers, args.mode) for workers in args.workers} for _ in range(args.repeat)]
        figures: dict = {
            "mode": args.mode,
            "images a run": len(images),
            "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
            "broker": settings.CELERY_BROKER_URL.split(":", 1)[0],
        }
        for workers in args.workers:
            runs = [r[workers] for r in rounds]
            figures[f"{workers} worker(s)"] = {
                "images/s (median)": round(float(statistics.median(rate for _, _, rate in runs)), 1),
                "runs, in round order": [round(rate, 1) for _, _, rate in runs],
                "done (fewest)": min(done for done, _, _ in runs),
                "failed (most)": max(failed for _, failed, _ in runs),
            }
        if len(args.workers) > 1:
            first, last = args.workers[0], args.workers[-1]
            ratios = [r[last][2] / r[first][2] for r in rounds]
            figures["scaling (median of the rounds' ratios)"] = round(float(statistics.median(ratios)), 2)
            figures["round ratios"] = [round(x, 2) for x in ratios]
        print(json.dumps(figures, indent=1))
        write_report(
            "batch_throughput",
            f"Batch throughput ({args.mode} mode, recognition on)",
            figures,
            targets={"1 worker(s) / images/s (median)": ">= 30", "scaling (median of the rounds' ratios)": ">= 1.8"},
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
