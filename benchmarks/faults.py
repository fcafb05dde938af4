"""Faults with recovery measured: the whole platform (web, worker, beat) on a PostgreSQL and a Redis
of its own, each fault injected by pid while a batch runs, then a short soak.

usage: python benchmarks/faults.py [--items 48] [--outage 10] [--soak 60]

Faults: a batch worker SIGKILLed mid-batch (a new one started), Redis down mid-batch, a batch
submitted while Redis is down, PostgreSQL down mid-batch, the media folder read-only (needs root:
a tmpfs remounted). For each: items lost and items written twice (both must be 0), seconds from
the recovery (the new worker, Redis or PostgreSQL answering again) to the batch's end, and what a
user saw meanwhile: the status code, the message and the slowest answer of the API. The soak runs
API analyses and small batches for --soak seconds and reports the drift of memory, open files and
database connections. Writes benchmarks/reports/faults.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import requests
from _django import REPO, photos
from report import write_report

from tests.faults.servers import PostgresServer, RedisServer, wait_until
from tests.servers import start_server, stop

#: Per fault: figure -> target.
TARGETS = {
    "items lost": "0",
    "items written twice": "0",
    "recovery to first progress s": "<= 10",
    "slowest answer during the outage s": "<= 5",
    "500 answers": "0",
}


class Platform:
    """Web, worker and beat processes on the benchmark's own PostgreSQL and Redis."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.var = workdir / "var"
        self.media = self.var / "media"
        self.media.mkdir(parents=True)
        self.on_tmpfs = (
            os.geteuid() == 0
            and not subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=512m", "tmpfs", str(self.media)], capture_output=True
            ).returncode
        )
        self.pg = PostgresServer(workdir).init().start()
        self.pg.createdb("faults")
        self.redis = RedisServer(workdir).start()
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
            "DJANGO_SETTINGS_MODULE": "maskportal.settings.test",
            "MASKPORTAL_BENCHMARK": "1",
            "MASKPORTAL_VAR_DIR": str(self.var),
            "DATABASE_URL": self.pg.url("faults"),
            "REDIS_URL": self.redis.url(),
            "OPENBLAS_NUM_THREADS": "1",
        }
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=REPO, env=self.env, check=True)
        script = (
            "from rest_framework.authtoken.models import Token; from tests.factories import AdminFactory; "
            "print(Token.objects.create(user=AdminFactory()).key)"
        )
        out = subprocess.run([*manage, "shell", "-c", script], cwd=REPO, env=self.env, check=True, capture_output=True)
        self.headers = {"Authorization": f"Token {out.stdout.decode().split()[-1]}", "Accept": "application/json"}
        self.web, port, self.web_log = start_server(db_name="faults", var_dir=self.var, env=self.env)
        self.base = f"http://127.0.0.1:{port}"
        serving = lambda: self.call("GET", "/api/v1/detections/")["status"] == 200  # noqa: E731
        wait_until(serving, timeout=180, what="the web process")
        self.beat = self.celery("beat", "--schedule", str(workdir / "beat-schedule"))
        self.worker = self.start_worker()

    def celery(self, *args: str) -> subprocess.Popen:
        """A celery process in its own session (killed with its children); its log is `proc.log`."""
        log = self.workdir / f"{args[0]}-{uuid.uuid4().hex[:6]}.log"
        cmd = [sys.executable, "-m", "celery", "-A", "maskportal", *args, "--loglevel", "INFO"]
        proc = subprocess.Popen(
            cmd, cwd=REPO, env=self.env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
        )
        proc.log = log
        return proc

    def start_worker(self) -> subprocess.Popen:
        return self.celery(
            "worker",
            "-Q",
            "default,batch",
            "-c",
            "1",
            "-n",
            f"bench-{uuid.uuid4().hex[:6]}@%h",
            "--without-gossip",
            "--without-mingle",
        )

    def kill_worker(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait(timeout=30)

    def close(self) -> None:
        for proc in (self.worker, self.beat):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=20)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        stop(self.web)
        self.redis.stop()
        if self.pg.proc.poll() is not None:
            self.pg.start()
        self.pg.stop()
        if self.on_tmpfs:
            subprocess.run(["umount", "-l", str(self.media)], check=False)
        shutil.rmtree(self.workdir, ignore_errors=True)

    # --- what a user does and sees ------------------------------------------------------------
    def call(self, method: str, path: str, **kwargs) -> dict:
        """One API call: its status (0: no answer), seconds, and message."""
        started = time.monotonic()
        try:
            response = requests.request(method, self.base + path, headers=self.headers, timeout=30, **kwargs)
        except requests.RequestException as exc:
            return {"status": 0, "seconds": round(time.monotonic() - started, 2), "message": type(exc).__name__}
        message = ""
        if response.status_code >= 400:
            with contextlib.suppress(ValueError):
                message = str(response.json().get("detail", ""))
        return {"status": response.status_code, "seconds": round(time.monotonic() - started, 2), "message": message}

    def submit(self, images: list[bytes]) -> tuple[dict, int | None]:
        files = [("files", (f"{i}.jpg", data, "image/jpeg")) for i, data in enumerate(images)]
        started = time.monotonic()
        response = requests.post(
            self.base + "/api/v1/batches/", headers=self.headers, files=files, data={"mode": "fast"}, timeout=60
        )
        seen = {"status": response.status_code, "seconds": round(time.monotonic() - started, 2), "message": ""}
        batch = response.json().get("id") if response.status_code == 201 else None
        if batch is None:
            try:
                seen["message"] = str(response.json().get("detail", ""))
            except ValueError:
                seen["message"] = response.text[:200]
        return seen, batch

    def probe(self, photo: bytes) -> list[dict]:
        """What a user meets during an outage: an analysis, a page of the log, a batch's progress."""
        return [
            self.call(
                "POST",
                "/api/v1/analyze/",
                files={"image": ("a.jpg", photo, "image/jpeg")},
                data={"store": "false", "mode": "fast"},
            ),
            self.call("GET", "/api/v1/detections/"),
        ]

    # --- the truth, from the database -------------------------------------------------------
    def sql(self, query: str, *params) -> list[tuple]:
        with psycopg.connect(self.pg.url("faults"), connect_timeout=3) as conn:
            return conn.execute(query, params).fetchall()

    def batch(self, batch_id: int) -> dict:
        status, total, done, failed = self.sql(
            "SELECT status, total, done, failed FROM detection_batchjob WHERE id = %s", batch_id
        )[0]
        logs = self.sql("SELECT count(*) FROM detection_detectionlog WHERE batch_id = %s", batch_id)[0][0]
        return {"status": status, "total": total, "done": done, "failed": failed, "logs": logs}

    def wait_done(self, batch_id: int, at_least: int, timeout: float = 300) -> None:
        def enough() -> bool:
            with contextlib.suppress(psycopg.Error):
                return self.batch(batch_id)["done"] >= at_least
            return False

        wait_until(enough, timeout=timeout, what=f"batch {batch_id} to reach {at_least} done", step=0.2)

    def wait_end(self, batch_id: int, timeout: float = 300) -> dict:
        def ended() -> dict | None:
            with contextlib.suppress(psycopg.Error):
                state = self.batch(batch_id)
                return state if state["status"] not in ("queued", "running") else None
            return None

        return wait_until(ended, timeout=timeout, what=f"batch {batch_id} to end", step=0.2)

    def usage(self) -> dict:
        """Memory (MiB) and open files of the web and worker processes (children included), and
        the database's connections."""
        pids = [self.web.pid, self.worker.pid]
        for pid in list(pids):
            with contextlib.suppress(OSError):
                pids += [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        rss = fds = 0
        for pid in pids:
            with contextlib.suppress(OSError):
                status = Path(f"/proc/{pid}/status").read_text()
                rss += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))
                fds += len(os.listdir(f"/proc/{pid}/fd"))
        connections = self.sql("SELECT count(*) FROM pg_stat_activity WHERE datname = 'faults'")[0][0]
        return {"memory_mib": round(rss / 1024, 1), "open_files": fds, "db_connections": connections}


def resumed(p: Platform, batch_id: int) -> float:
    """Seconds from now until the batch makes progress again (an item written, or its end)."""
    started, before = time.monotonic(), None

    def moved() -> bool:
        nonlocal before
        with contextlib.suppress(psycopg.Error):
            state = p.batch(batch_id)
            if before is None:
                before = state["done"] + state["failed"]
            return state["done"] + state["failed"] > before or state["status"] not in ("queued", "running")
        return False

    wait_until(moved, timeout=300, what=f"batch {batch_id} to make progress", step=0.1)
    return round(time.monotonic() - started, 1)


def outcome(state: dict, recovered_at: float | None, seen: list[dict], resumed_s: float | None = None) -> dict:
    answered = [s for s in seen if s["status"]]
    return {
        "recovery to first progress s": resumed_s,
        "items lost": state["total"] - state["done"],  # every photo is good: each must end analysed
        "items written twice": state["logs"] - state["done"],
        "final status": state["status"],
        "recovery to batch end s": round(time.monotonic() - recovered_at, 1) if recovered_at else None,
        "user saw": sorted({f"{s['status']} {s['message']}".strip() for s in seen}),
        "slowest answer during the outage s": max((s["seconds"] for s in seen), default=0.0),
        "500 answers": sum(1 for s in answered if s["status"] >= 500 and s["status"] != 503),
    }


def worker_killed(p: Platform, images: list[bytes]) -> dict:
    """Recovery is counted from the new worker's "ready" (its start-up is the operator's time)."""
    _, batch = p.submit(images)
    p.wait_done(batch, 4)
    p.kill_worker()
    seen = p.probe(images[0])
    p.worker = p.start_worker()
    wait_until(lambda: b" ready." in p.worker.log.read_bytes(), timeout=300, what="the new worker", step=0.1)
    recovered = time.monotonic()
    progress = resumed(p, batch)
    return outcome(p.wait_end(batch), recovered, seen, progress)


def redis_down_mid_batch(p: Platform, images: list[bytes], outage: float) -> dict:
    _, batch = p.submit(images)
    p.wait_done(batch, 4)
    p.redis.stop()
    seen = _probe_for(p, images[0], outage)
    p.redis.start()
    recovered = time.monotonic()
    progress = resumed(p, batch)
    return outcome(p.wait_end(batch), recovered, seen, progress)


def redis_down_at_submit(p: Platform, images: list[bytes], outage: float) -> dict:
    p.redis.stop()
    seen, batch = p.submit(images)
    seen = [seen, *_probe_for(p, images[0], outage)]
    p.redis.start()
    recovered = time.monotonic()
    if batch is None:
        return outcome({"total": 0, "done": 0, "failed": 0, "logs": 0, "status": "refused"}, None, seen)
    progress = resumed(p, batch)
    return outcome(p.wait_end(batch), recovered, seen, progress)


def postgres_down_mid_batch(p: Platform, images: list[bytes], outage: float) -> dict:
    _, batch = p.submit(images)
    p.wait_done(batch, 4)
    p.pg.stop()
    seen = _probe_for(p, images[0], outage)
    p.pg.start()
    recovered = time.monotonic()
    progress = resumed(p, batch)
    return outcome(p.wait_end(batch), recovered, seen, progress)


def media_read_only(p: Platform, images: list[bytes]) -> dict:
    subprocess.run(["mount", "-o", "remount,ro", str(p.media)], check=True)
    try:
        stored = p.call(
            "POST",
            "/api/v1/analyze/",
            files={"image": ("a.jpg", images[0], "image/jpeg")},
            data={"store": "true", "mode": "fast"},
        )
        seen, batch = p.submit(images[:4])
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(p.media)], check=True)
    return {
        "user saw": sorted({f"{s['status']} {s['message']}".strip() for s in (stored, seen)}),
        "slowest answer during the outage s": max(stored["seconds"], seen["seconds"]),
    }


def _probe_for(p: Platform, photo: bytes, seconds: float) -> list[dict]:
    seen, until = [], time.monotonic() + seconds
    while time.monotonic() < until:
        seen += p.probe(photo)
        time.sleep(0.5)
    return seen


def soak(p: Platform, images: list[bytes], seconds: float) -> dict:
    start, calls, errors, batches = p.usage(), 0, 0, 0
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        if calls % 20 == 0:
            seen, batch = p.submit(images[:8])
            batches += 1
            errors += seen["status"] != 201
        for result in p.probe(images[calls % len(images)]):
            calls += 1
            errors += result["status"] not in (200, 201)
    time.sleep(3)  # the last batch's work settles
    end = p.usage()
    return {
        "seconds": seconds,
        "api calls": calls,
        "batches": batches,
        "errors": errors,
        "start": start,
        "end": end,
        "drift": {key: round(end[key] - start[key], 1) for key in start},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=48, help="photos per batch")
    parser.add_argument("--outage", type=float, default=10.0, help="seconds Redis and PostgreSQL stay down")
    parser.add_argument("--soak", type=float, default=60.0, help="seconds of the soak")
    args = parser.parse_args()
    images = photos(args.items)
    platform = Platform(Path(tempfile.mkdtemp(prefix="maskportal-faults-")))
    figures: dict = {}
    try:
        warm, batch = platform.submit(images[:4])  # models load on the worker's first chunk
        platform.wait_end(batch)
        figures["worker SIGKILL mid-batch"] = worker_killed(platform, images)
        figures["Redis down mid-batch"] = redis_down_mid_batch(platform, images, args.outage)
        figures["batch submitted while Redis is down"] = redis_down_at_submit(platform, images, args.outage)
        figures["PostgreSQL down mid-batch"] = postgres_down_mid_batch(platform, images, args.outage)
        if platform.on_tmpfs:
            figures["media folder read-only"] = media_read_only(platform, images)
        figures["soak"] = soak(platform, images, args.soak)
    finally:
        platform.close()
    print(json.dumps(figures, indent=2))
    targets = {
        f"{fault} / {figure}": target
        for fault in figures
        for figure, target in TARGETS.items()
        if figure in figures[fault]
    }
    path = write_report(
        "faults",
        "Faults and recovery (PostgreSQL + Redis)",
        {"items per batch": args.items, "outage s": args.outage, **figures},
        targets=targets,
        notes=[
            "Recovery is counted from the moment the new worker is ready or the server is started again.",
            "Redis runs without persistence: a restart loses the queue, so the recovery sweep (beat, every "
            "5 s) queues the lost chunks again.",
        ],
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
