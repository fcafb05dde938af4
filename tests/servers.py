"""The real web server, started as `make run` starts it (the Procfile's `web` command, i.e.
deploy/start-web), on a given database: for the browser and serving tests and the benchmarks."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def web_command(tree: Path = REPO) -> str:
    """The `web` line of a checkout's Procfile (`tree` may be another revision, for comparisons)."""
    for line in (tree / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == "web":
            return command.strip()
    raise RuntimeError(f"no web process in {tree / 'Procfile'}")


def wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    """Return once `port` accepts connections; RuntimeError with the log's tail if `proc` dies first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError as exc:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop(proc)
                raise RuntimeError(f"process on {port} did not start:\n{log.read_text()[-3000:]}") from exc
            time.sleep(0.2)


def start_server(
    *,
    db_name: str,
    var_dir: Path,
    log_name: str = "web",
    workers: int = 1,
    timeout: float = 60,
    tree: Path = REPO,
    env: dict[str, str] | None = None,
    port: int | None = None,
) -> tuple[subprocess.Popen, int, Path]:
    """Start the web server on a free loopback port and wait until it accepts connections.

    Test settings by default; `env` adds or overrides variables (e.g. another settings module).
    Returns the process, its port and its log; raises RuntimeError with the log's tail if it dies
    or does not listen within `timeout` seconds.
    """
    port = port or free_port()
    full_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "maskportal.settings.test",
        "MASKPORTAL_VAR_DIR": str(var_dir),
        "MASKPORTAL_TEST_DB_NAME": db_name,
        "MASKPORTAL_HOST": "127.0.0.1",
        "MASKPORTAL_PORT": str(port),
        "WEB_CONCURRENCY": str(workers),
        **(env or {}),
    }
    log = Path(var_dir) / f"{log_name}-{port}.log"
    proc = subprocess.Popen(
        ["bash", "-c", f"exec {web_command(tree)}"],
        cwd=tree,
        env=full_env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + timeout
    wait_for_port(port, proc, log, timeout)
    wait_for_answer(port, proc, log, deadline)
    return proc, port, log


def wait_for_answer(port: int, proc: subprocess.Popen, log: Path, deadline: float) -> None:
    """Return once the server answers HTTP: gunicorn listens before its workers have loaded the app,
    and a WebSocket client gives up on a handshake long before a slow worker boots."""
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=max(1.0, deadline - time.monotonic()))
            conn.request("GET", "/static/css/maskportal.css")  # any answer will do; static files need no database
            conn.getresponse().read()
            conn.close()
            return
        except OSError as exc:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop(proc)
                raise RuntimeError(f"server on {port} did not answer:\n{log.read_text()[-3000:]}") from exc
            time.sleep(0.2)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
