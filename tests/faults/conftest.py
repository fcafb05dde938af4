"""Fault injection: a Redis and a PostgreSQL of the test's own on spare loopback ports (see
tests/faults/servers.py), a media folder on a small tmpfs that can be filled or made read-only, and
real worker and web processes pointed at them. Each piece skips cleanly where its binary (or the
right to mount) is missing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from maskportal.settings.base import redis_channel_layer
from tests.conftest import REPO, WorkerProcess
from tests.faults.servers import PostgresServer, RedisServer, Unavailable, wait_until


def wait_for(check: Callable[[], object], *, timeout: float, what: str, step: float = 0.1):
    """`wait_until`, failing the test on timeout."""
    try:
        return wait_until(check, timeout=timeout, what=what, step=step)
    except TimeoutError as exc:
        pytest.fail(str(exc))


def _server(make: Callable[[], object]):
    try:
        return make()
    except Unavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def own_redis(tmp_path) -> Iterator[RedisServer]:
    server = _server(lambda: RedisServer(tmp_path)).start()
    yield server
    server.stop()


@pytest.fixture
def redis_backends(own_redis, settings) -> Iterator[RedisServer]:
    """This process's cache, channel layer and Celery broker on the test's own Redis."""
    from celery import current_app
    from channels.layers import channel_layers

    settings.CACHES = {"default": {"BACKEND": "maskportal.cache.SharedPoolRedisCache", "LOCATION": own_redis.url()}}
    settings.CHANNEL_LAYERS = {"default": redis_channel_layer(own_redis.url())}
    channel_layers.backends.clear()
    conf = current_app.conf
    saved = (conf.broker_url, conf.broker_transport_options)
    conf.broker_url, conf.broker_transport_options = own_redis.url(), {"visibility_timeout": 3600}
    _reset_broker_pools(current_app)
    yield own_redis
    conf.broker_url, conf.broker_transport_options = saved
    _reset_broker_pools(current_app)
    channel_layers.backends.clear()


def _reset_broker_pools(app) -> None:
    """Drop the connection pools built for the previous broker URL (as Celery does after a fork)."""
    app._pool = None
    with contextlib.suppress(AttributeError, KeyError):
        app.__dict__["amqp"]._producer_pool = None


class OwnRedisWorker(WorkerProcess):
    """A real worker whose broker, cache and channel layer are the test's own Redis."""

    def __init__(self, redis: RedisServer, **kwargs) -> None:
        super().__init__(**kwargs)
        self.redis = redis
        self.extra_env = {"REDIS_URL": redis.url(), "BATCH_STALL_SECONDS": "2"}

    def env(self) -> dict[str, str]:
        return {**super().env(), **self.extra_env}


@pytest.fixture
def own_redis_workers(redis_backends, transactional_db) -> Iterator[Callable[..., OwnRedisWorker]]:
    workers: list[OwnRedisWorker] = []

    def make(**kwargs) -> OwnRedisWorker:
        worker = OwnRedisWorker(redis_backends, **kwargs)
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.stop()


@pytest.fixture(scope="session")
def own_postgres() -> Iterator[tuple[PostgresServer, str]]:
    """A migrated database on a PostgreSQL of the tests' own, with an API token; yields (server, token)."""
    workdir = Path(tempfile.mkdtemp(prefix="maskportal-pg-"))
    os.chmod(workdir, 0o755)
    server = _server(lambda: PostgresServer(workdir)).init().start()
    try:
        server.createdb("faults")
        env = {**_plain_env(workdir), "DATABASE_URL": server.url("faults")}
        run = [sys.executable, "manage.py"]
        subprocess.run([*run, "migrate", "--noinput", "-v", "0"], cwd=REPO, env=env, check=True, capture_output=True)
        script = (
            "from rest_framework.authtoken.models import Token; from tests.factories import AdminFactory; "
            "print(Token.objects.create(user=AdminFactory()).key)"
        )
        token = (
            subprocess.run([*run, "shell", "-c", script], cwd=REPO, env=env, check=True, capture_output=True, text=True)
            .stdout.strip()
            .splitlines()[-1]
        )
        yield server, token
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _plain_env(var_dir: Path) -> dict[str, str]:
    """The environment of a process of the platform on embedded back ends, with its own var/."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "MASKPORTAL_TEST_DB_NAME")}
    env.update(DJANGO_SETTINGS_MODULE="maskportal.settings.test", MASKPORTAL_VAR_DIR=str(var_dir))
    return env


@pytest.fixture
def small_media(settings, tmp_path) -> Iterator[Path]:
    """MEDIA_ROOT on a 2 MiB tmpfs (needs root to mount; skipped elsewhere)."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root")
    root = tmp_path / "media"
    root.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(root)], capture_output=True).returncode:
        pytest.skip("this system does not allow mounting a tmpfs")
    move_media(settings, root)
    try:
        yield root
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)


def move_media(settings, root: Path) -> None:
    """Point MEDIA_ROOT at `root`; the registered classifier versions stay readable there."""
    models = Path(settings.MEDIA_ROOT) / "models"
    models.mkdir(parents=True, exist_ok=True)
    (root / "models").symlink_to(models)
    settings.MEDIA_ROOT = root


def remount(root: Path, mode: str) -> None:
    """Make the tmpfs read-only ("ro") or writable again ("rw")."""
    subprocess.run(["mount", "-o", f"remount,{mode}", str(root)], check=True)


def fill(root: Path) -> None:
    """Fill the tmpfs to the last byte."""
    for name, block in (("filler", 65536), ("filler-small", 512), ("filler-tiny", 1)):
        with contextlib.suppress(OSError):
            fd = os.open(root / name, os.O_WRONLY | os.O_CREAT)
            try:
                while os.write(fd, b"\0" * block):
                    pass
            except OSError:
                pass
            finally:
                os.close(fd)


from tests.detection.analysis_fixtures import classifier, face_jpeg  # noqa: E402, F401  (fixtures)
