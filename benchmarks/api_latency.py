"""POST /api/v1/analyze/ latency with concurrent clients on loopback, through a real Daphne server.

usage: DATABASE_URL=postgres://... REDIS_URL=redis://... \
       python benchmarks/api_latency.py [--clients 4] [--requests 50] [--mode fast]

Each client keeps one HTTP connection and posts 640x480 JPEGs (one face, recognition on) with a
Staff token; the first requests of every client warm the models up and are not counted.
Target: p95 <= 150 ms with 4 clients in fast mode. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from _django import REPO, enrol_astronaut, photos, throwaway_database

WARMUP = 3


def multipart(data: bytes, mode: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="mode"\r\n\r\n{mode}\r\n'.encode(),
        (f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="frame.jpg"\r\n'
         "Content-Type: image/jpeg\r\n\r\n").encode() + data + b"\r\n",
        f"--{boundary}--\r\n".encode(),
    ]  # fmt: skip
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def client(port: int, token: str, bodies: list[tuple[bytes, str]], latencies: list[float], errors: list[str]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for i, (body, content_type) in enumerate(bodies):
        start = time.perf_counter()
        conn.request("POST", "/api/v1/analyze/", body=body,
                     headers={"Authorization": f"Token {token}", "Content-Type": content_type})  # fmt: skip
        response = conn.getresponse()
        payload = response.read()
        elapsed = (time.perf_counter() - start) * 1000
        if response.status != 201:
            errors.append(f"{response.status}: {payload[:200]!r}")
        elif i >= WARMUP:
            latencies.append(elapsed)
    conn.close()


def serve(db_name: str) -> tuple[subprocess.Popen, int]:
    import socket

    from django.conf import settings

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, MASKPORTAL_TEST_DB_NAME=db_name, MASKPORTAL_VAR_DIR=str(settings.VAR_DIR))
    log = Path(settings.VAR_DIR) / "api_latency_daphne.log"
    proc = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                             "maskportal.asgi:application"], cwd=REPO, env=env, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise SystemExit(f"daphne did not start:\n{log.read_text()[-2000:]}") from None
            time.sleep(0.2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=50, help="measured requests per client")
    parser.add_argument("--mode", default="fast", choices=["fast", "accurate"])
    args = parser.parse_args()
    import numpy as np

    with throwaway_database() as db_name:
        from rest_framework.authtoken.models import Token

        from tests.factories import UserFactory

        enrol_astronaut(args.mode)
        token = Token.objects.create(user=UserFactory()).key
        images = photos(args.requests + WARMUP)
        bodies = [multipart(data, args.mode) for data in images]
        proc, port = serve(db_name)
        try:
            latencies: list[float] = []
            errors: list[str] = []
            threads = [threading.Thread(target=client, args=(port, token, bodies, latencies, errors))
                       for _ in range(args.clients)]  # fmt: skip
            start = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            wall = time.perf_counter() - start
        finally:
            proc.terminate()
            proc.wait(timeout=20)
        values = np.array(latencies)
        print(json.dumps({
            "clients": args.clients, "mode": args.mode, "requests": len(values), "errors": len(errors),
            "p50_ms": round(float(np.percentile(values, 50)), 1), "p95_ms": round(float(np.percentile(values, 95)), 1),
            "max_ms": round(float(values.max()), 1), "requests_per_s": round(len(values) / wall, 1),
        }))  # fmt: skip
        if errors:
            print("first error:", errors[0], file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
