"""PostgreSQL down: the web process answers a clear 503 within seconds (no 30 s hang, no 500) and
serves again as soon as the database is back (its pooled connections are checked, not trusted)."""

from __future__ import annotations

import time

import pytest
import requests

from tests.faults.conftest import _plain_env, wait_for
from tests.servers import start_server, stop

pytestmark = pytest.mark.faults

#: The worst a request may take while the database is down.
MAX_OUTAGE_ANSWER_S = 5.0


def test_database_down_answers_503_at_once_and_recovers_at_once(own_postgres, tmp_path):
    server, token = own_postgres
    env = {**_plain_env(tmp_path), "DATABASE_URL": server.url("faults")}
    proc, port, log = start_server(db_name="faults", var_dir=tmp_path, env=env)
    url = f"http://127.0.0.1:{port}/api/v1/detections/"
    headers = {"Authorization": f"Token {token}", "Accept": "application/json"}

    def get() -> tuple[int, float, requests.Response | None]:
        started = time.monotonic()
        try:
            response = requests.get(url, headers=headers, timeout=15)
        except requests.RequestException:
            return 0, time.monotonic() - started, None
        return response.status_code, time.monotonic() - started, response

    try:
        wait_for(lambda: get()[0] == 200, timeout=120, what=f"the web process to serve\n{log.read_text()[-2000:]}")
        server.stop()
        for _ in range(3):
            status, seconds, response = get()
            assert status == 503, f"answered {status} after {seconds:.1f}s\n{log.read_text()[-3000:]}"
            assert seconds < MAX_OUTAGE_ANSWER_S
            assert response.headers["Retry-After"] and "database" in response.json()["detail"]
        server.start()
        back = time.monotonic()
        wait_for(lambda: get()[0] == 200, timeout=30, what="the API to answer again", step=0.2)
        assert time.monotonic() - back < 5, "the API stayed down after the database was back"
    finally:
        if server.proc.poll() is not None:
            server.start()
        stop(proc)
