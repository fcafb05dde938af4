"""A Redis and a PostgreSQL of a test's (or a benchmark's) own on spare loopback ports, stopped and
restarted by pid. `Unavailable` says why one cannot run here (binary missing, no user to run as)."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.servers import free_port


class Unavailable(RuntimeError):
    """This machine cannot run the server (the message says why)."""


def wait_until(check: Callable[[], object], *, timeout: float, what: str, step: float = 0.1):
    """Poll `check` until it returns something truthy; TimeoutError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(step)


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


class RedisServer:
    """`redis-server` on a spare port, without persistence (a restart comes back empty, like a
    crashed Redis without AOF)."""

    def __init__(self, workdir: Path) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise Unavailable("redis-server is not installed")
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> RedisServer:
        cmd = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.workdir),
        ]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: _listening(self.port), timeout=10, what=f"redis on {self.port}")
        return self

    def stop(self) -> None:
        """Take Redis down (SIGKILL by pid: nothing is flushed, clients see refused connections)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()


class PostgresServer:
    """A throwaway PostgreSQL cluster (initdb) on a spare port, run as the `postgres` user when the
    tests run as root, stopped (fast shutdown) and started again by pid."""

    def __init__(self, workdir: Path) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
        self.bin = Path(bins[-1]) if bins else None
        if self.bin is None and shutil.which("initdb"):
            self.bin = Path(shutil.which("initdb")).parent
        if self.bin is None:
            raise Unavailable("PostgreSQL binaries (initdb, postgres) are not installed")
        self.user = None
        if os.geteuid() == 0:
            try:
                self.user = pwd.getpwnam("postgres")
            except KeyError:
                raise Unavailable("running as root without a postgres user to run PostgreSQL as") from None
        self.data = workdir / "pgdata"
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log = workdir / "postgres.log"

    def _run_as(self) -> dict:
        return {"user": self.user.pw_uid, "group": self.user.pw_gid} if self.user else {}

    def init(self) -> PostgresServer:
        self.data.mkdir(parents=True)
        if self.user:
            os.chown(self.data.parent, self.user.pw_uid, self.user.pw_gid)
            os.chown(self.data, self.user.pw_uid, self.user.pw_gid)
        subprocess.run(
            [str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8"],
            check=True,
            capture_output=True,
            **self._run_as(),
        )
        return self

    def start(self) -> PostgresServer:
        cmd = [
            str(self.bin / "postgres"),
            "-D",
            str(self.data),
            "-p",
            str(self.port),
            "-k",
            str(self.data),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "max_connections=60",
        ]
        log = self.log.open("ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, **self._run_as())
        wait_until(self.ready, timeout=30, what=f"PostgreSQL on {self.port}", step=0.05)
        return self

    def ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"PostgreSQL exited:\n{self.log.read_text()[-2000:]}")
        result = subprocess.run([str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"])
        return result.returncode == 0

    def stop(self) -> None:
        """Fast shutdown (SIGINT by pid): clients are disconnected, new connections refused."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(timeout=30)

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def createdb(self, name: str) -> None:
        subprocess.run(
            [str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name],
            check=True,
            capture_output=True,
        )
