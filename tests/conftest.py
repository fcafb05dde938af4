"""Fixtures shared by every test: users by role, API clients, a real Celery worker process."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.factories import AdminFactory, UserFactory

REPO = Path(__file__).resolve().parent.parent
SHARED_DATASETS = REPO.parent / "shared" / "datasets"


def shared_dataset(name: str) -> Path:
    """Path of a dataset in ../shared/datasets, or skip the test where it is absent."""
    path = SHARED_DATASETS / name
    if not path.exists():
        pytest.skip(f"{path} is absent (shared datasets are not on this machine)")
    return path


@pytest.fixture
def staff_user(db):
    return UserFactory()


@pytest.fixture
def admin_user(db):
    return AdminFactory()


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def token_client(api_client, staff_user):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=staff_user)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return api_client


@pytest.fixture
def admin_token_client(api_client, admin_user):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=admin_user)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return api_client


class WorkerProcess:
    """A real `celery worker` process on the configured broker, reading the test database."""

    def __init__(self, queues: str = "default,batch,training", concurrency: int = 1):
        self.name = f"test-{uuid.uuid4().hex[:8]}@%h"
        self.queues = queues
        self.concurrency = concurrency
        self.proc: subprocess.Popen | None = None
        self.log = Path(settings.VAR_DIR) / f"worker-{uuid.uuid4().hex[:8]}.log"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["DJANGO_SETTINGS_MODULE"] = "maskportal.settings.test"
        env["MASKPORTAL_VAR_DIR"] = str(settings.VAR_DIR)
        env["MASKPORTAL_TEST_DB_NAME"] = str(connection.settings_dict["NAME"])
        return env

    def start(self, wait: bool = True) -> WorkerProcess:
        cmd = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "maskportal",
            "worker",
            "-Q",
            self.queues,
            "-c",
            str(self.concurrency),
            "-n",
            self.name,
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
        ]
        self.proc = subprocess.Popen(
            cmd, cwd=REPO, env=self.env(), stdout=self.log.open("wb"), stderr=subprocess.STDOUT
        )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 90) -> None:
        from maskportal.celery import ping

        result = ping.apply_async(args=["ready"])
        try:
            assert result.get(timeout=timeout) == "ready"
        except Exception as exc:
            raise AssertionError(f"worker did not answer: {exc}\n{self.output()}") from exc

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
            # prefork children die with the parent's process group only if we kill them too
            subprocess.run(["pkill", "-9", "-f", self.name.split("@")[0]], check=False)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        subprocess.run(["pkill", "-9", "-f", self.name.split("@")[0]], check=False)
        time.sleep(0.2)


def purge_broker() -> None:
    from maskportal.celery import app

    with app.connection_for_write() as conn:
        for queue in ("default", "batch", "training"):
            with contextlib.suppress(Exception):  # a queue not declared yet
                conn.default_channel.queue_purge(queue)


@pytest.fixture
def celery_worker(transactional_db):
    """Start a real worker for the test; yields a handle that can also kill it."""
    purge_broker()
    worker = WorkerProcess().start()
    yield worker
    worker.stop()


@pytest.fixture
def worker_factory(transactional_db):
    """Start several workers or start them later (kill/restart tests)."""
    purge_broker()
    workers: list[WorkerProcess] = []

    def make(**kwargs) -> WorkerProcess:
        worker = WorkerProcess(**kwargs)
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.stop()


@pytest.fixture(autouse=True)
def fresh_api_throttles():
    """API throttle counts start at zero in every test (a user id can recur from test to test)."""
    from django.core.cache import caches

    if "throttle" in settings.CACHES:
        caches["throttle"].clear()


@pytest.fixture(autouse=True)
def fresh_channel_layer():
    """Each test gets its own channel layer: channels_redis binds its locks to the event loop of
    the test that first used it, and pytest-asyncio gives every test a new loop."""
    from channels.layers import channel_layers

    from maskportal import realtime

    channel_layers.backends.clear()
    yield
    realtime.flush()  # nothing a test published lands in the next test's layer
    channel_layers.backends.clear()


def wait_until_idle(pool: ThreadPoolExecutor, timeout: float = 60) -> None:
    """Return once every task handed to `pool` so far has finished: one barrier task per worker
    thread runs only when no earlier task holds a thread."""
    workers = pool._max_workers
    barrier = threading.Barrier(workers + 1)
    for _ in range(workers):
        pool.submit(barrier.wait, timeout)
    barrier.wait(timeout)


@pytest.fixture(autouse=True)
def live_work_finished_in_its_test():
    """The live sockets' frame and event threads are idle when a test ends: a frame or a track
    still being logged would write into the next test's database."""
    yield
    consumers = sys.modules.get("detection.consumers")
    if consumers is not None:
        wait_until_idle(consumers._frame_pool)
        wait_until_idle(consumers._event_pool)


@pytest.fixture(autouse=True)
def engine_resynced_after_test():
    """A test's database is rolled back without a version bump, so this process's engine is told
    to re-read the registry and the active model before the next test's first analysis, and the
    settings and people the analysis service reuses for a second are forgotten."""
    yield
    from detection.services import engine
    from detection.services.analysis import forget_recent

    engine._synced.clear()
    engine.recheck()
    forget_recent()
