"""The real web server (maskportal.serve) on a given database: for the browser tests and the benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(*, db_name: str, var_dir: Path, log_name: str = "web", workers: int = 1, timeout: float = 60) -> tuple[
    subprocess.Popen, int, Path
]:
    """Start the web server on a free loopback port and wait until it accepts connections.

    Returns the process, its port and its log; raises RuntimeError with the log's tail if it dies
    or does not listen within `timeout` seconds.
    """
    port = free_port()
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="maskportal.settings.test",
        MASKPORTAL_VAR_DIR=str(var_dir),
        MASKPORTAL_TEST_DB_NAME=db_name,
    )
    log = Path(var_dir) / f"{log_name}-{port}.log"
    cmd = [sys.executable, "-m", "maskportal.serve", "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(workers)]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port, log
        except OSError as exc:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"web server on {port} did not start:\n{log.read_text()[-3000:]}") from exc
            time.sleep(0.2)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
