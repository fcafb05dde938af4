"""POST /api/v1/analyze/ latency with concurrent clients on loopback, through the real web server.

usage: DATABASE_URL=postgres://... REDIS_URL=redis://... \
       python benchmarks/api_latency.py [--clients 4] [--requests 50] [--mode fast] [--workers 1] \
                                        [--compare DIR --rounds 3]

Each client keeps one HTTP connection and posts 640x480 JPEGs (one face, recognition on) with a
Staff token; the first requests of every client warm the models up and are not counted. The server
is started as `make run` starts it (the Procfile's `web` command). With `--compare DIR` (another
checkout, e.g. a git worktree of an earlier revision) both servers are measured in alternating
rounds on the same database, since the machine's speed drifts between runs minutes apart.
Target: p95 <= 150 ms with 4 clients in fast mode. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
import uuid
from pathlib import Path

from _django import enrol_astronaut, photos, throwaway_database
from report import write_report

from tests.servers import start_server, stop

WARMUP = 3
#: Figures reported as the median over rounds.
MEDIANS = ("p50_ms", "p95_ms", "requests_per_s")


def multipart(data: bytes, mode: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="mode"\r\n\r\n{mode}\r\n'.encode(),
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="frame.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + data
        + b"\r\n",
        f"--{boundary}--\r\n".encode(),
    ]
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def client(port: int, token: str, bodies: list[tuple[bytes, str]], latencies: list[float], errors: list[str]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for i, (body, content_type) in enumerate(bodies):
        start = time.perf_counter()
        conn.request(
            "POST",
            "/api/v1/analyze/",
            body=body,
            headers={"Authorization": f"Token {token}", "Content-Type": content_type},
        )
        response = conn.getresponse()
        payload = response.read()
        elapsed = (time.perf_counter() - start) * 1000
        if response.status != 201:
            errors.append(f"{response.status}: {payload[:200]!r}")
        elif i >= WARMUP:
            latencies.append(elapsed)
    conn.close()


def measure(tree: Path, db_name: str, token: str, bodies: list[tuple[bytes, str]], args) -> dict:
    """One run: start the server of checkout `tree`, let every client post every body, stop it."""
    import numpy as np
    from django.conf import settings

    proc, port, _ = start_server(
        db_name=db_name,
        var_dir=Path(settings.VAR_DIR),
        log_name="api-latency",
        workers=args.workers,
        tree=tree,
        timeout=120,
    )
    try:
        latencies: list[float] = []
        errors: list[str] = []
        threads = [
            threading.Thread(target=client, args=(port, token, bodies, latencies, errors)) for _ in range(args.clients)
        ]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - start
    finally:
        stop(proc)
    if errors:
        print("first error:", errors[0], file=sys.stderr)
    values = np.array(latencies or [float("nan")])
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "p50_ms": round(float(np.percentile(values, 50)), 1),
        "p95_ms": round(float(np.percentile(values, 95)), 1),
        "max_ms": round(float(values.max()), 1),
        "requests_per_s": round(len(latencies) / wall, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=50, help="measured requests per client")
    parser.add_argument("--mode", default="fast", choices=["fast", "accurate"])
    parser.add_argument("--workers", type=int, default=1, help="web server processes (more need REDIS_URL)")
    parser.add_argument("--compare", type=Path, help="another checkout whose server is measured in alternating rounds")
    parser.add_argument("--rounds", type=int, default=1, help="rounds (each measures this checkout, and --compare)")
    parser.add_argument("--compare-note", default="", help="what the compared checkout is, for the report")
    args = parser.parse_args()
    import numpy as np

    with throwaway_database() as db_name:
        from rest_framework.authtoken.models import Token

        from tests.factories import UserFactory
        from tests.servers import REPO

        enrol_astronaut(args.mode)
        token = Token.objects.create(user=UserFactory()).key
        images = photos(args.requests + WARMUP)
        bodies = [multipart(data, args.mode) for data in images]
        trees = {"this": REPO, **({"compared": args.compare.resolve()} if args.compare else {})}
        rounds: list[dict] = []
        for number in range(args.rounds):
            order = list(trees) if number % 2 == 0 else list(reversed(trees))  # neither always goes first
            rounds.append({name: measure(trees[name], db_name, token, bodies, args) for name in order})
            print(json.dumps(rounds[-1]))
        figures: dict = {"clients": args.clients, "mode": args.mode, "web_workers": args.workers, "rounds": len(rounds)}
        for name in trees:
            runs = [r[name] for r in rounds]
            figures[name] = {
                **{key: round(float(np.median([run[key] for run in runs])), 1) for key in MEDIANS},
                "p95_ms_each_round": [run["p95_ms"] for run in runs],
                "errors": sum(run["errors"] for run in runs),
                "requests": sum(run["requests"] for run in runs),
            }
        print(json.dumps(figures))
        write_report(
            "api_latency",
            f"POST /api/v1/analyze/ latency ({args.clients} clients, {args.mode} mode, recognition on)",
            figures,
            targets={"this.p95_ms": "<= 150", "this.errors": "0"},
            notes=[f"compared: {args.compare_note}"] if args.compare_note else None,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
